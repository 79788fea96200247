"""Without REDIS_URL the exact cache lives in process memory (one process only) and
works the same way, clearing included."""

import pytest
from django.test import override_settings

from apps.cache.services import cache_clear
from tests.cache.conftest import ask, recall, remember

LOCAL = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_PREFIX": "pgw"}}


@pytest.fixture
def no_redis(cache_settings):
    cache_settings(semantic_enabled=False)
    with override_settings(REDIS_URL="", CACHES=LOCAL):
        yield


def test_it_serves_hits_from_process_memory(no_redis, namespace, other_namespace):
    remember(ask("What is DNS?"), namespace=namespace)
    assert recall(ask("What is DNS?"), namespace=namespace).kind == "exact"
    assert recall(ask("What is DNS?"), namespace=other_namespace) is None


def test_it_clears_process_memory_per_namespace(no_redis, namespace, other_namespace):
    remember(ask("What is DNS?"), namespace=namespace)
    remember(ask("What is TCP?"), namespace=namespace)
    remember(ask("What is DNS?"), namespace=other_namespace)
    assert cache_clear(semantic_cache=False, namespace=namespace) == {"exact_cache": 2, "semantic_cache": 0}
    assert recall(ask("What is DNS?"), namespace=namespace) is None
    assert recall(ask("What is DNS?"), namespace=other_namespace) is not None

"""Entries expire after their TTL (cache.exact.ttl / cache.semantic.ttl, per model overridable)."""

import datetime as dt
import time

import pytest
from django.utils import timezone

from apps.cache import exact, semantic
from apps.cache.canonical import exact_key
from apps.cache.models import SemanticCacheEntry
from tests.cache.conftest import ask, recall, remember

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(condition, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


def test_it_stores_exact_answers_with_the_configured_ttl(redis_url, namespace, cache_settings):
    cache_settings(exact_ttl=1234, semantic_enabled=False)
    remember(ask("What is DNS?"), namespace=namespace)
    ttl = exact.admin_redis().ttl(exact.full_key(exact_key(ask("What is DNS?"), namespace=namespace)))
    assert 1200 < ttl <= 1234


def test_it_forgets_an_exact_answer_when_its_ttl_runs_out(redis_url, namespace, cache_settings):
    cache_settings(model_overrides={"gpt-4o": {"ttl": 1}}, semantic_enabled=False)
    remember(ask("What is DNS?"), namespace=namespace)
    key = exact.full_key(exact_key(ask("What is DNS?"), namespace=namespace))
    assert 0 < exact.admin_redis().pttl(key) <= 1000
    wait_until(lambda: not exact.admin_redis().exists(key))
    assert recall(ask("What is DNS?"), namespace=namespace) is None


def test_it_stops_serving_a_semantic_answer_once_it_expired(namespace, cache_settings):
    cache_settings(model_overrides={"gpt-4o": {"semantic_ttl": 60}}, exact_enabled=False)
    remember(ask("What is the speed of sound?", temperature=0), namespace=namespace)
    entry = SemanticCacheEntry.objects.get(namespace=namespace)
    assert (entry.expires_at - entry.created_at).total_seconds() == 60
    assert recall(ask("what's the speed of sound", temperature=0), namespace=namespace) is not None
    # Sixty seconds later, as far as the table can tell:
    SemanticCacheEntry.objects.filter(pk=entry.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert recall(ask("what's the speed of sound", temperature=0), namespace=namespace) is None
    assert semantic.semantic_prune(max_entries=1_000_000) == 1
    assert not SemanticCacheEntry.objects.filter(namespace=namespace).exists()

"""Per-model and per-key switches in configuration turn caches off."""

import pytest

from tests.cache.conftest import ask, recall, remember

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_turns_the_exact_cache_off_for_one_model(redis_url, namespace, cache_settings):
    cache_settings(model_overrides={"gpt-4o": {"exact": False}}, semantic_enabled=False)
    remember(ask("What is DNS?"), namespace=namespace)
    assert recall(ask("What is DNS?"), namespace=namespace) is None
    remember(ask("What is DNS?", model="gpt-4-turbo"), namespace=namespace)
    assert recall(ask("What is DNS?", model="gpt-4-turbo"), namespace=namespace).kind == "exact"


def test_it_turns_the_semantic_cache_off_for_one_model(namespace, cache_settings):
    cache_settings(model_overrides={"gpt-4o": {"semantic": False}}, exact_enabled=False)
    remember(ask("What is the capital of Peru?", temperature=0), namespace=namespace)
    assert recall(ask("what's the capital of Peru", temperature=0), namespace=namespace) is None


def test_it_turns_every_cache_off_for_keys_in_the_none_namespace(redis_url):
    remember(ask("What is DNS?", temperature=0), namespace="none")
    assert recall(ask("What is DNS?", temperature=0), namespace="none") is None


def test_it_turns_caches_off_globally(redis_url, namespace, cache_settings):
    cache_settings(exact_enabled=False, semantic_enabled=False)
    remember(ask("What is DNS?", temperature=0), namespace=namespace)
    assert recall(ask("What is DNS?", temperature=0), namespace=namespace) is None


def test_it_lowers_the_semantic_temperature_limit_for_one_model(namespace, cache_settings):
    cache_settings(model_overrides={"gpt-4o": {"max_temperature": 0}}, exact_enabled=False)
    remember(ask("What is the capital of Peru?", temperature=0.3), namespace=namespace)
    assert recall(ask("what's the capital of Peru", temperature=0.3), namespace=namespace) is None
    remember(ask("What is the capital of Peru?", temperature=0), namespace=namespace)
    assert recall(ask("what's the capital of Peru", temperature=0), namespace=namespace).kind == "semantic"

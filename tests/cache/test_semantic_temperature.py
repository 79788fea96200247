"""The semantic cache serves only requests sampled at or below cache.semantic.max_temperature;
a request without temperature samples at the providers' default, 1.0."""

import pytest

from tests.cache.conftest import ask, recall, remember

pytestmark = pytest.mark.django_db(transaction=True)

CACHED, PARAPHRASE = "What is the speed of light?", "what's the speed of light"


def test_it_serves_requests_at_a_low_temperature(namespace):
    remember(ask(CACHED, temperature=0.5), namespace=namespace)
    assert recall(ask(PARAPHRASE, temperature=0.5), namespace=namespace).kind == "semantic"


def test_it_neither_stores_nor_serves_hot_requests(namespace, cache_settings):
    cache_settings(exact_enabled=False)
    remember(ask(CACHED, temperature=0.9), namespace=namespace)
    assert recall(ask(CACHED, temperature=0.9), namespace=namespace) is None
    remember(ask(CACHED, temperature=0), namespace=namespace)
    assert recall(ask(PARAPHRASE, temperature=0.9), namespace=namespace) is None


def test_it_treats_a_missing_temperature_as_the_provider_default(namespace, cache_settings):
    cache_settings(exact_enabled=False)
    remember(ask(CACHED), namespace=namespace)
    assert recall(ask(CACHED), namespace=namespace) is None
    cache_settings(max_temperature=1.0)
    remember(ask(CACHED), namespace=namespace)
    assert recall(ask(PARAPHRASE), namespace=namespace).kind == "semantic"

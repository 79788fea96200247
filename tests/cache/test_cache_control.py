"""Cache-Control per request: no-cache skips the read but still writes; no-store skips both."""

import pytest

from tests.cache.conftest import ask, recall, remember

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_skips_the_read_but_refreshes_the_entry_on_no_cache(redis_url, namespace):
    remember(ask("What is DNS?"), namespace=namespace, text="old answer")
    assert recall(ask("What is DNS?"), namespace=namespace, cache_control="no-cache") is None
    remember(ask("What is DNS?"), namespace=namespace, text="new answer", cache_control="no-cache")
    found = recall(ask("What is DNS?"), namespace=namespace)
    assert found.completion["choices"][0]["message"]["content"] == "new answer"


def test_it_neither_reads_nor_writes_on_no_store(redis_url, namespace):
    remember(ask("What is DNS?"), namespace=namespace, text="stored")
    assert recall(ask("What is DNS?"), namespace=namespace, cache_control="no-store") is None
    remember(ask("What is TCP?"), namespace=namespace, cache_control="no-store")
    assert recall(ask("What is TCP?"), namespace=namespace) is None


def test_it_applies_the_same_directives_to_the_semantic_cache(namespace):
    remember(ask("What is the boiling point of water?", temperature=0), namespace=namespace, cache_control="no-store")
    assert recall(ask("what's the boiling point of water", temperature=0), namespace=namespace) is None
    remember(ask("What is the boiling point of water?", temperature=0), namespace=namespace, cache_control="no-cache")
    assert recall(ask("what's the boiling point of water", temperature=0), namespace=namespace, cache_control="no-cache") is None
    assert recall(ask("what's the boiling point of water", temperature=0), namespace=namespace).kind == "semantic"


def test_it_reads_the_directives_among_others(redis_url, namespace):
    remember(ask("What is DNS?"), namespace=namespace)
    assert recall(ask("What is DNS?"), namespace=namespace, cache_control="max-age=0, No-Store") is None

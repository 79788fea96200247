"""The semantic table is bounded: past cache.semantic.max_entries the oldest entries go."""

import pytest

from apps.cache.models import SemanticCacheEntry
from tests.cache.conftest import ask, recall, remember

pytestmark = pytest.mark.django_db(transaction=True)

QUESTIONS = ["What is DNS?", "What is TCP?", "What is UDP?", "What is HTTP?", "What is TLS?"]


def test_it_evicts_the_oldest_entries_past_max_entries(namespace, cache_settings):
    cache_settings(max_entries=3, exact_enabled=False)
    for question in QUESTIONS:
        remember(ask(question, temperature=0), namespace=namespace, text=f"answer to {question}")
    kept = list(SemanticCacheEntry.objects.order_by("id").values_list("question", flat=True))
    assert kept == QUESTIONS[-3:]
    assert recall(ask("what is dns", temperature=0), namespace=namespace) is None
    assert recall(ask("what is tls", temperature=0), namespace=namespace).kind == "semantic"

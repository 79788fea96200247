"""The semantic store queue: stores reuse their lookup's vector and are written in batches;
a store without a vector asks for one as background work; bounds and drops are counted."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.cache import embedder, semantic
from apps.cache.models import SemanticCacheEntry
from apps.cache.policy import SemanticQuery
from apps.stats import metrics
from tests.cache.conftest import answer, run

pytestmark = pytest.mark.django_db(transaction=True)


def dropped(reason: str) -> float:
    return metrics.child(metrics.SEMANTIC_STORES_DROPPED, reason)._value.get()


def query(namespace: str, text: str, *, vector: bool = True) -> SemanticQuery:
    embedding = embedder.embed_sync([text])[0] if vector else None
    return SemanticQuery(text=text, scope="s" * 64, namespace=namespace, ttl=3600, threshold=0.75, embedding=embedding)


def rows(namespace: str) -> list[str]:
    return sorted(SemanticCacheEntry.objects.filter(namespace=namespace).values_list("question", flat=True))


def test_stores_with_their_lookups_vectors_are_written_together_once_each(namespace, monkeypatch):
    texts = [f"question number {i}" for i in range(12)]
    queries = [query(namespace, text) for text in texts]
    batches: list[int] = []
    insert_rows = semantic._insert_rows
    monkeypatch.setattr(semantic, "_insert_rows", lambda stores: batches.append(len(stores)) or insert_rows(stores))

    async def store_all() -> None:
        for q in queries + [query(namespace, texts[0])]:  # the same question twice: stored once
            semantic.enqueue_store(q, answer())

    run(store_all())
    assert rows(namespace) == sorted(texts)
    assert batches == [12]  # one INSERT


def test_a_full_queue_drops_and_counts_instead_of_growing(namespace, monkeypatch):
    monkeypatch.setattr(semantic, "MAX_QUEUED_STORES", 3)
    before = dropped("queue_full")

    async def store_many() -> None:
        for i in range(5):  # put() runs without yielding: nothing is written in between
            semantic.enqueue_store(query(namespace, f"burst question {i}"), answer())

    run(store_many())
    assert dropped("queue_full") == before + 2
    assert len(rows(namespace)) == 3


def test_a_store_whose_lookup_was_skipped_gets_its_vector_in_the_background(namespace):
    assert semantic.wait_for_embedder(timeout=120)

    async def store() -> None:
        semantic.enqueue_store(query(namespace, "What is the capital of Peru?", vector=False), answer())

    run(store())
    assert rows(namespace) == ["What is the capital of Peru?"]


def test_without_a_vector_and_no_service_the_store_is_dropped_and_counted(namespace, settings, tmp_path):
    settings.GATEWAY_EMBEDDER_URL = f"unix://{tmp_path / 'nobody-listens.sock'}"
    before = dropped("no_vector")

    async def store() -> None:
        semantic.enqueue_store(query(namespace, "What is the capital of Chile?", vector=False), answer())

    run(store())
    assert dropped("no_vector") == before + 1
    assert rows(namespace) == []


def test_vectors_are_kept_inside_their_rows_not_in_the_toast_table():
    # A lookup sorts a scope's rows by distance: a vector out of line cost a TOAST read per row
    # (migration 0002; docs/benchmarks.md).
    with connection.cursor() as cursor:
        cursor.execute("SELECT attstorage FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'embedding'",
                       [SemanticCacheEntry._meta.db_table])
        assert cursor.fetchone()[0] == "p"

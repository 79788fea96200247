"""A hit costs no upstream call, is recorded as a zero-cost UsageRecord with its cache
kind, and lookups that find nothing are counted as misses per cache."""

import uuid

import pytest

from apps.stats import metrics
from apps.stats.models import UsageRecord
from tests.cache.conftest import ask, recall, remember
from tests.cache.served import post, stored, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_answers_a_hit_without_the_upstream_and_records_it_at_zero_cost(gateway, key_for, namespace, fake_upstream):
    raw_key = key_for(namespace)
    tag = f"acct-{uuid.uuid4().hex[:8]}"
    payload = ask(f"What is accounting? fake:tag={tag}")
    miss = post(gateway, raw_key, payload)
    wait_until(lambda: stored(payload, namespace))
    hit = post(gateway, raw_key, payload)
    assert (miss.headers["X-Cache"], hit.headers["X-Cache"]) == ("MISS", "HIT-EXACT")
    assert fake_upstream.tag_count(tag) == 1
    record = wait_until(lambda: UsageRecord.objects.filter(request_id=hit.headers["X-Request-ID"]).first())
    paid = wait_until(lambda: UsageRecord.objects.filter(request_id=miss.headers["X-Request-ID"]).first())
    assert (record.cache, record.cost_usd, record.status_code) == ("exact", 0, 200)
    assert record.prompt_tokens == paid.prompt_tokens and paid.cost_usd > 0 and paid.cache == ""


def _misses(kind: str) -> float:
    return metrics.CACHE_MISSES.labels(kind)._value.get()


def test_it_counts_misses_per_cache_consulted(redis_url, namespace):
    exact_before, semantic_before = _misses("exact"), _misses("semantic")
    recall(ask("Never asked before?"), namespace=namespace)  # temperature 1.0: exact only
    assert (_misses("exact") - exact_before, _misses("semantic") - semantic_before) == (1, 0)
    recall(ask("Never asked before either?", temperature=0), namespace=namespace)
    assert (_misses("exact") - exact_before, _misses("semantic") - semantic_before) == (2, 1)


def test_it_counts_semantic_queries_and_hits_gateway_wide(redis_url, namespace):
    from apps.cache.counters import semantic_counters

    before = semantic_counters()
    remember(ask("What is the tallest mountain?", temperature=0), namespace=namespace)
    recall(ask("what's the tallest mountain", temperature=0), namespace=namespace)
    after = semantic_counters()
    assert after["queries"] - before["queries"] == 2  # the miss before the store, then the hit
    assert after["hits"] - before["hits"] == 1
    assert 0.85 < (after["similarity_micro"] - before["similarity_micro"]) / 1e6 <= 1.0

"""Every embeddings request leaves one UsageRecord: tokens, cost from gateway.yaml's
price per million input tokens, cache hits free, Gemini's tokens marked estimated."""

from decimal import Decimal

import httpx
import pytest

from tests.completions.test_usage_records import wait_for_records

pytestmark = pytest.mark.django_db(transaction=True)


def embed(gateway, key: str, model: str, texts: list[str], *, cache: str = "no-store") -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/embeddings", json={"model": model, "input": texts}, timeout=60,
                      headers={"X-API-Key": key, "Cache-Control": cache})


def test_it_records_openai_tokens_and_cost(gateway, user_key):
    response = embed(gateway, user_key, "text-embedding-3-large", ["four words of text", "and three more"])
    [record] = wait_for_records(1, request_id=response.headers["X-Request-ID"])
    assert (record.model, record.provider, record.prompt_tokens, record.completion_tokens) == (
        "text-embedding-3-large", "openai", 7, 0)
    assert record.cost_usd == Decimal(str(round(7 * 0.13 / 1_000_000, 8))) and not record.tokens_estimated


def test_it_estimates_gemini_tokens_and_says_so(gateway, user_key):
    response = embed(gateway, user_key, "gemini-embedding-001", ["x" * 40])
    [record] = wait_for_records(1, request_id=response.headers["X-Request-ID"])
    assert (record.prompt_tokens, record.tokens_estimated) == (10, True)
    assert response.json()["usage"]["prompt_tokens"] == 10


def test_it_records_the_local_model_free_and_a_cache_hit_free(gateway, user_key):
    first = embed(gateway, user_key, "all-minilm-l6-v2", ["a free vector, please"], cache="")
    again = embed(gateway, user_key, "all-minilm-l6-v2", ["a free vector, please"], cache="")
    assert again.headers["X-Cache"] == "HIT-EXACT"
    [miss] = wait_for_records(1, request_id=first.headers["X-Request-ID"])
    [hit] = wait_for_records(1, request_id=again.headers["X-Request-ID"])
    assert (miss.provider, miss.cache, miss.cost_usd) == ("local", "", 0) and miss.prompt_tokens > 0
    assert (hit.cache, hit.cost_usd, hit.prompt_tokens) == ("exact", 0, miss.prompt_tokens)


def test_it_records_a_refused_request(gateway, user_key):
    response = embed(gateway, user_key, "all-minilm-l6-v2", [""])
    [record] = wait_for_records(1, request_id=response.headers["X-Request-ID"])
    assert (record.status_code, record.error_code) == (400, "invalid_request")

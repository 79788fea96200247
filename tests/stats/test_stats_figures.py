"""/stats adds up exactly what was recorded: totals, caches, providers, throttling, users."""

import datetime as dt
from decimal import Decimal

import pytest

from apps.keys.services import key_create
from apps.stats import usage
from apps.stats.usage import UsageData

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_usage_buffer")]

NOW = dt.datetime.now(dt.timezone.utc)


def record(key, *, provider="openai", model="gpt-4o", cache="", status=200, error="", prompt=0, completion=0,
           latency=0.0, at=NOW) -> None:
    usage.usage_record(UsageData(
        request_id="req_test", status_code=status, api_key_id=key.pk, key_prefix=key.prefix, model=model,
        provider=provider, prompt_tokens=prompt, completion_tokens=completion, latency_ms=latency, cache=cache,
        error_code=error, cost_usd=Decimal("0.001"), created_at=at,
    ))


def throttled(key, at=NOW) -> None:
    usage.usage_record(UsageData(
        request_id="req_test", status_code=429, api_key_id=key.pk, key_prefix=key.prefix,
        error_code="rate_limit_exceeded", created_at=at,
    ))


@pytest.fixture
def traffic(db):
    frank, _ = key_create(name="frank")
    grace, _ = key_create(name="grace")
    for latency in (100, 300):
        record(frank, prompt=10, completion=5, latency=latency)
    record(grace, provider="anthropic", model="claude-sonnet-4-20250514", prompt=7, completion=3, latency=900)
    record(grace, provider="anthropic", model="claude-sonnet-4-20250514", status=502, error="provider_error", latency=1500)
    record(frank, cache="exact", prompt=10, completion=5, latency=2)
    record(frank, cache="exact", prompt=10, completion=5, latency=2)
    record(grace, cache="semantic", prompt=10, completion=5, latency=20)
    for _ in range(3):
        throttled(frank)
    usage.flush_all()
    return frank, grace


def test_it_counts_requests_caches_providers_and_throttling(client, admin_key, traffic):
    body = client.get("/stats", HTTP_X_API_KEY=admin_key).json()
    assert body["total_requests"] == 10
    # 7 requests were not throttled: 2 exact hits, then 1 semantic hit among the other 5.
    assert body["cache_stats"] == {
        "exact_cache": {"hits": 2, "misses": 5, "hit_rate": round(2 / 7, 4)},
        "semantic_cache": {"hits": 1, "misses": 4, "hit_rate": 0.2},
    }
    assert body["provider_stats"]["openai"] == {"requests": 2, "tokens": 30, "avg_latency": 0.2}
    assert body["provider_stats"]["anthropic"] == {"requests": 2, "tokens": 10, "avg_latency": 1.2}
    assert body["provider_stats"]["google"] == {"requests": 0, "tokens": 0, "avg_latency": 0.0}
    assert body["rate_limit_stats"]["requests_throttled"] == 3


def test_it_ranks_top_users_by_requests(client, admin_key, traffic):
    frank, grace = traffic
    users = client.get("/stats", HTTP_X_API_KEY=admin_key).json()["rate_limit_stats"]["top_users"]
    assert users == [
        {"api_key": f"{frank.prefix}…", "requests": 7, "throttled": 3},
        {"api_key": f"{grace.prefix}…", "requests": 3, "throttled": 0},
    ]


def test_it_answers_zeros_before_any_traffic(client, admin_key):
    body = client.get("/stats", HTTP_X_API_KEY=admin_key).json()
    assert body["total_requests"] == 0
    assert body["cache_stats"]["exact_cache"] == {"hits": 0, "misses": 0, "hit_rate": 0.0}
    assert body["rate_limit_stats"] == {"requests_throttled": 0, "top_users": []}


def test_it_refuses_a_bad_since(client, admin_key):
    response = client.get("/stats", {"since": "last tuesday"}, HTTP_X_API_KEY=admin_key)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"

"""Budgets in USD against a served gateway: the refusal clients see, the headers, teams,
cache hits, and a Redis that lost its counters."""

from __future__ import annotations

import time
from decimal import Decimal

import openai
import pytest
import redis

from apps.keys.budgets import PREFIX, units
from apps.keys.services import key_create, team_create
from apps.stats.models import UsageRecord
from tests.conftest import needs_redis
from tests.keys.test_limiter_helpers import auth, chat_body

pytestmark = pytest.mark.django_db(transaction=True)

BUDGET_HEADERS = ("X-Budget-Limit-USD", "X-Budget-Remaining-USD", "X-Budget-Reset")
A_CENT_FRACTION = Decimal("0.000001")  # less than any request costs: one request spends it


def sdk(gateway, key: str, **options) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, timeout=30, **options)


def wait_for(condition, *, seconds: float = 15.0):
    """Polls until `condition()` is truthy (records and spend land in the background)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    return condition()


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(needs_redis())


def spend_counter(key_id_hash: str) -> int | None:
    names = [name for name in redis_client().scan_iter(match=f"pgw:spend:\\{{spend\\}}:key:{key_id_hash[:16]}:*")]
    return int(redis_client().get(names[0])) if names else None


def test_it_refuses_a_spent_budget_as_openai_does_and_the_sdk_does_not_retry(gateway, fake_upstream):
    api_key, key = key_create(name="erin", budget_usd=A_CENT_FRACTION, budget_period="day")
    client = sdk(gateway, key)  # the SDK's default: two retries of a 429
    client.chat.completions.create(**chat_body())  # admitted: nothing was spent yet
    before = fake_upstream.requests()["total"]

    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(**chat_body())

    error = refused.value
    assert error.code == "budget_exceeded" and error.type == "insufficient_quota"
    assert error.response.headers["x-should-retry"] == "false"
    assert "key 'erin'" in error.message and "per day" in error.message and "resets at" in error.message
    assert 0 < int(error.response.headers["Retry-After"]) <= 86_400
    assert error.response.headers["X-Budget-Remaining-USD"] == "0.00"
    assert fake_upstream.requests()["total"] == before  # refused before the provider, and not retried
    assert wait_for(lambda: UsageRecord.objects.filter(api_key_id=api_key.pk, error_code="budget_exceeded").count()) == 1


def test_it_sends_the_budget_headers_on_every_response_of_a_budgeted_key(http):
    _, key = key_create(name="frank", budget_usd=Decimal("5"), budget_period="month")
    answered = http.post("/v1/chat/completions", json=chat_body(), headers=auth(key))
    listed = http.get("/v1/models", headers=auth(key))
    for response in (answered, listed):
        assert response.status_code == 200
        assert response.headers["X-Budget-Limit-USD"] == "5.00"
        assert 0 < int(response.headers["X-Budget-Reset"]) <= 31 * 86_400
    assert Decimal(answered.headers["X-Budget-Remaining-USD"]) < 5


def test_it_sends_no_budget_headers_for_a_key_without_budget(http, user_key):
    response = http.post("/v1/chat/completions", json=chat_body(), headers=auth(user_key))
    assert response.status_code == 200 and not any(name in response.headers for name in BUDGET_HEADERS)


def test_it_shares_a_team_budget_between_its_keys(http):
    team = team_create(name="research", budget_usd=A_CENT_FRACTION)
    _, first = key_create(name="grace", team=team)
    _, second = key_create(name="heidi", team=team, budget_usd=Decimal("100"))
    assert http.post("/v1/chat/completions", json=chat_body(), headers=auth(first)).status_code == 200

    refused = http.post("/v1/chat/completions", json=chat_body(), headers=auth(second))

    assert refused.status_code == 429 and refused.json()["error"]["code"] == "budget_exceeded"
    assert "team 'research'" in refused.json()["error"]["message"]
    assert refused.headers["X-Budget-Reset"] == "never" and "Retry-After" not in refused.headers


def test_it_charges_nothing_for_a_cache_hit(http):
    api_key, key = key_create(name="ivan", budget_usd=Decimal("1"), rpm=100_000)  # the test polls
    body = chat_body()
    first = http.post("/v1/chat/completions", json=body, headers={"X-API-Key": key})
    cost = wait_for(lambda: UsageRecord.objects.filter(api_key_id=api_key.pk).values_list("cost_usd", flat=True).first())
    assert first.status_code == 200 and cost > 0
    assert wait_for(lambda: spend_counter(api_key.key_hash) == units(cost))

    hit = wait_for(lambda: (r := http.post("/v1/chat/completions", json=body, headers={"X-API-Key": key}))
                   and r.json().get("id") != first.json()["id"] and UsageRecord.objects.filter(
                       api_key_id=api_key.pk, cache="exact").exists() and r)

    assert hit and hit.status_code == 200
    # The hit's reservation is returned: the counter comes back to the one answer's cost.
    assert wait_for(lambda: spend_counter(api_key.key_hash) == units(cost))
    assert list(UsageRecord.objects.filter(api_key_id=api_key.pk, cache="exact").values_list("cost_usd", flat=True))[0] == 0


def test_it_remembers_spend_after_redis_lost_the_counters(http, fake_upstream):
    api_key, key = key_create(name="judy", budget_usd=A_CENT_FRACTION)
    assert http.post("/v1/chat/completions", json=chat_body(), headers=auth(key)).status_code == 200
    assert wait_for(lambda: UsageRecord.objects.filter(api_key_id=api_key.pk).exists())
    client = redis_client()
    client.delete(*client.scan_iter(match=PREFIX.replace("{", "\\{").replace("}", "\\}") + "*"))  # a Redis restart
    before = fake_upstream.requests()["total"]

    refused = http.post("/v1/chat/completions", json=chat_body(), headers=auth(key))

    assert refused.status_code == 429 and refused.json()["error"]["code"] == "budget_exceeded"
    assert fake_upstream.requests()["total"] == before


def test_it_refuses_a_model_the_team_does_not_allow_even_if_the_key_does(http):
    team = team_create(name="frugal", allowed_models=["gpt-3.5-turbo"])
    _, key = key_create(name="karl", team=team, allowed_models=["gpt-4o", "gpt-3.5-turbo"])
    assert http.post("/v1/chat/completions", json=chat_body(model="gpt-4o"), headers=auth(key)).status_code == 403
    assert http.post("/v1/chat/completions", json=chat_body(model="gpt-3.5-turbo"), headers=auth(key)).status_code == 200
    models = [model["id"] for model in http.get("/v1/models", headers=auth(key)).json()["data"]]
    assert models == ["gpt-3.5-turbo"]


def test_it_counts_refusals_per_scope_in_the_metrics(http, admin_key):
    team = team_create(name="metered", budget_usd=A_CENT_FRACTION)
    _, key = key_create(name="liam", team=team)
    http.post("/v1/chat/completions", json=chat_body(), headers=auth(key))
    assert http.post("/v1/chat/completions", json=chat_body(), headers=auth(key)).status_code == 429
    text = http.get("/metrics", headers={"X-API-Key": admin_key}).text
    team_line = next(line for line in text.splitlines() if line.startswith('gateway_budget_rejections_total{scope="team"}'))
    assert float(team_line.split()[-1]) >= 1

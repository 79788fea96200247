"""Budgets' rules without a server: periods reset at UTC midnight, a key's own settings
narrow its team's, the commands, spend_report and /stats' spend_stats."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import uuid
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from apps.keys.budgets import SpendHold, abudget_check, period_of, record_spend
from apps.keys.models import ApiKey, Team
from apps.keys.registry import Budget, KeyInfo, key_lookup
from apps.keys.services import key_create, team_create
from apps.stats import usage
from apps.stats.usage import UsageData
from gateway_site.errors import BudgetExceeded

pytestmark = pytest.mark.django_db(transaction=True)

LATE = dt.datetime(2026, 11, 29, 23, 59, 30, tzinfo=dt.timezone.utc)
MIDNIGHT = dt.datetime(2026, 11, 30, 0, 0, 0, tzinfo=dt.timezone.utc)


def budgeted_key(limit: str, period: str = "day") -> KeyInfo:
    hashed = uuid.uuid4().hex * 2
    budget = Budget("key", 10**9, "nina", hashed[:16], Decimal(limit), period)
    return KeyInfo(id=10**9, name="nina", prefix="pgw-nina", key_hash=hashed, is_admin=False, rpm=None, tpm=None,
                   allowed_models=frozenset(), namespace="", expires_at=None, revoked=False, budgets=(budget,))


@pytest.fixture(params=["redis", "in_process"])
def store(request):
    """The Lua scripts and the in-process fallback must behave identically."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    with override_settings(REDIS_URL=url):
        yield


def spend(key: KeyInfo, usd: str, now: dt.datetime) -> None:
    async def scenario():
        hold, _ = await abudget_check(key, model="gpt-4o", now=now)
        record_spend(hold, Decimal(usd), learn=False)
        await asyncio.sleep(0.05)  # the background write

    asyncio.run(scenario())


def test_it_resets_a_daily_budget_at_utc_midnight(store):
    key = budgeted_key("0.01")
    spend(key, "0.01", LATE)

    with pytest.raises(BudgetExceeded) as refused:
        asyncio.run(abudget_check(key, model="gpt-4o", now=LATE))
    _, headers = asyncio.run(abudget_check(key, model="gpt-4o", reserve=False, now=MIDNIGHT))

    assert refused.value.headers["Retry-After"] == "30" and "2026-11-30T00:00:00Z" in refused.value.message
    assert headers["X-Budget-Remaining-USD"] == "0.01" and headers["X-Budget-Reset"] == "86400"


def test_it_admits_until_spent_reaches_the_limit_then_refuses(store):
    key = budgeted_key("0.03", period="month")
    for _ in range(3):
        spend(key, "0.01", LATE)
    with pytest.raises(BudgetExceeded):
        asyncio.run(abudget_check(key, model="gpt-4o", now=LATE))
    assert period_of("month", LATE).end == dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)


def test_it_returns_a_refused_requests_reservation(store):
    key = budgeted_key("1")
    spend(key, "0.40", LATE)  # the model's cost is learned from here on
    asyncio.run(_reserve_and_release(key))
    _, headers = asyncio.run(abudget_check(key, model="gpt-4o", reserve=False, now=LATE))
    assert headers["X-Budget-Remaining-USD"] == "0.60"


async def _reserve_and_release(key: KeyInfo) -> None:
    record_spend(SpendHold((), "gpt-4o", 0), Decimal("0.25"), learn=True)
    await asyncio.sleep(0.05)
    hold, headers = await abudget_check(key, model="gpt-4o", now=LATE)
    assert hold.reserved == 25_000_000 and headers["X-Budget-Remaining-USD"] == "0.35"
    record_spend(hold, Decimal(0), learn=False)  # refused by the rate limiter, say
    await asyncio.sleep(0.05)


def test_it_narrows_the_teams_bounds_with_the_keys_own():
    team = team_create(name="platform", allowed_models=["gpt-4o", "gpt-3.5-turbo"], rpm=10, tpm=5000)
    _, narrower = key_create(name="olga", team=team, allowed_models=["gpt-4o", "gemini-2.5-pro"], rpm=50, tpm=1000)
    _, plain = key_create(name="pete", team=team)
    _, disjoint = key_create(name="quinn", team=team, allowed_models=["gemini-2.5-pro"])

    narrow, wide, none = key_lookup(narrower), key_lookup(plain), key_lookup(disjoint)

    assert narrow.allowed_models == {"gpt-4o"} and (narrow.rpm, narrow.tpm) == (10, 1000)
    assert wide.may_use_model("gpt-3.5-turbo") and not wide.may_use_model("gpt-4") and wide.rpm == 10
    assert not any(none.may_use_model(model) for model in ("gpt-4o", "gemini-2.5-pro", "gpt-4"))
    assert narrow.team_name == "platform" and narrow.budgets == ()


def test_it_drops_cached_keys_when_their_team_changes(events_in_process):
    from apps.keys.services import team_changed

    team = team_create(name="ops", budget_usd=Decimal("5"))
    _, raw = key_create(name="rita", team=team)
    assert key_lookup(raw).budgets[0].limit_usd == 5
    team.budget_usd = Decimal("7")
    team.save()
    team_changed(team=team)
    assert key_lookup(raw).budgets[0].limit_usd == 7


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_creates_teams_and_budgeted_keys_from_the_command_line():
    run("create_team", "data", "--budget-usd", "50", "--budget-period", "month", "--models", "gpt-4o,gpt-3.5-turbo")
    raw = run("create_api_key", "sam", "--team", "data", "--budget-usd", "2.5", "--budget-period", "day").splitlines()[-1]

    info = key_lookup(raw)
    team = Team.objects.get(name="data")
    assert team.budget_usd == 50 and team.budget_period == "month" and team.allowed_models == ["gpt-4o", "gpt-3.5-turbo"]
    assert [(b.scope, b.limit_usd, b.period) for b in info.budgets] == [("key", 2.5, "day"), ("team", 50, "month")]
    assert ApiKey.objects.get(name="sam").team == team
    with pytest.raises(CommandError):
        run("create_api_key", "tom", "--team", "nobody")
    with pytest.raises(CommandError):
        run("create_team", "data")


def test_it_reports_spend_per_team_key_and_model():
    team = team_create(name="search")
    uma, _ = key_create(name="uma", team=team)
    victor, _ = key_create(name="victor")
    for key, model, cost in ((uma, "gpt-4o", "0.5"), (uma, "gpt-4o", "0.25"), (victor, "gpt-3.5-turbo", "0.125")):
        usage.usage_record(UsageData(request_id="r", status_code=200, api_key_id=key.pk, key_prefix=key.prefix,
                                     team_id=key.team_id, model=model, provider="openai", cost_usd=Decimal(cost)))
    usage.flush_all()

    everyone = run("spend_report", "--since", "1d")
    searchers = run("spend_report", "--team", "search")

    assert "search" in everyone and f"uma ({uma.prefix}…)" in everyone and "0.750000" in everyone
    assert f"victor ({victor.prefix}…)" in everyone and everyone.splitlines()[-1].endswith("0.875000")
    assert "victor" not in searchers and searchers.splitlines()[-1].endswith("0.750000")


def test_it_shows_spend_in_stats(client, admin_key):
    team = team_create(name="labs")
    wendy, _ = key_create(name="wendy", team=team)
    xavier, _ = key_create(name="xavier")
    rows = ((wendy, "openai", "gpt-4o", "0.5", ""), (xavier, "anthropic", "claude-sonnet-4-20250514", "0.25", ""),
            (xavier, "openai", "gpt-4o", "0", "exact"))
    for key, provider, model, cost, cache in rows:
        usage.usage_record(UsageData(request_id="r", status_code=200, api_key_id=key.pk, key_prefix=key.prefix,
                                     team_id=key.team_id, model=model, provider=provider, cost_usd=Decimal(cost),
                                     cache=cache))
    usage.flush_all()

    spend = client.get("/stats", HTTP_X_API_KEY=admin_key).json()["spend_stats"]

    assert spend["total_usd"] == 0.75
    assert spend["by_provider"] == {"anthropic": 0.25, "openai": 0.5}
    assert spend["by_model"] == {"claude-sonnet-4-20250514": 0.25, "gpt-4o": 0.5}
    assert spend["by_team"] == [{"team": "labs", "cost_usd": 0.5}]
    assert spend["top_keys"] == [{"api_key": f"{wendy.prefix}…", "cost_usd": 0.5},
                                 {"api_key": f"{xavier.prefix}…", "cost_usd": 0.25}]

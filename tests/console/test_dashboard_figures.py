"""The dashboard's figures: budget refusals apart from errors and throttles, teams linked
and ordered by how much of their budget they have used."""

from decimal import Decimal

import pytest

from apps.console.dashboard import dashboard_figures
from apps.keys.services import key_create, team_create
from apps.stats.usage import UsageData, flush_all, usage_record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("window", ["1h", "24h"])
def test_it_counts_budget_refusals_apart_from_errors(window):
    team = team_create(name="checkout", budget_usd=Decimal("0.01"))
    api_key, _ = key_create(name="checkout-api", team=team)
    common = {"api_key_id": api_key.pk, "team_id": team.pk}
    usage_record(UsageData(request_id="req_ok", status_code=200, model="gpt-4o", provider="openai",
                           cost_usd=Decimal("0.012"), **common))
    for index in range(2):
        usage_record(UsageData(request_id=f"req_refused_{index}", status_code=429, error_code="budget_exceeded",
                               model="gpt-4o", provider="openai", **common))
    usage_record(UsageData(request_id="req_throttled", status_code=429, error_code="rate_limit_exceeded", **common))
    usage_record(UsageData(request_id="req_failed", status_code=502, error_code="provider_error", model="gpt-4o",
                           provider="openai", **common))
    flush_all()
    figures = dashboard_figures(window=window)
    assert figures["totals"]["requests"] == 5
    assert (figures["totals"]["budget_refused"], figures["totals"]["throttled"], figures["totals"]["errors"]) == (2, 1, 1)
    assert sum(figures["series"]["budget_refused"]) == 2 and sum(figures["series"]["errors"]) == 1
    assert len(figures["series"]["budget_refused"]) == len(figures["series"]["labels"])
    openai = next(row for row in figures["providers"] if row["provider"] == "openai")
    assert (openai["requests"], openai["errors"]) == (2, 1)  # refusals never reached it


def test_it_links_teams_closest_to_their_budget_first():
    full = team_create(name="full", budget_usd=Decimal("0.01"))
    team_create(name="idle", budget_usd=Decimal("5"))  # spends nothing: listed after
    api_key, _ = key_create(name="full-api", team=full)
    usage_record(UsageData(request_id="req_full", status_code=200, api_key_id=api_key.pk, team_id=full.pk,
                           model="gpt-4o", provider="openai", cost_usd=Decimal("0.02")))
    flush_all()
    teams = dashboard_figures(window="24h")["teams"]
    assert [team["name"] for team in teams] == ["full", "idle"]
    assert teams[0]["budget_used"] >= 1 and teams[0]["url"] == f"/admin/keys/team/{full.pk}/change/"

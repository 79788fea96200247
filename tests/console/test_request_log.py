"""The request log: every status, people's units, filters and a CSV of the filtered set."""

import csv
import io
from decimal import Decimal

import pytest

from apps.keys.services import key_create
from apps.stats.usage import UsageData, flush_all, usage_record

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_filters_by_key_and_exports_the_filtered_set(operator):
    alice, _ = key_create(name="alice")
    bob, _ = key_create(name="bob")
    usage_record(UsageData(request_id="req_a1", status_code=200, api_key_id=alice.pk, model="gpt-4o", provider="openai",
                           latency_ms=60.41299997150418, cost_usd=Decimal("0.00123456")))
    usage_record(UsageData(request_id="req_a2", status_code=429, api_key_id=alice.pk, error_code="rate_limit_exceeded",
                           error_message="Rate limit exceeded"))
    usage_record(UsageData(request_id="req_b1", status_code=200, api_key_id=bob.pk, model="gpt-4o", provider="openai"))
    flush_all()
    html = operator.get(f"/admin/stats/usagerecord/?key={alice.pk}").content.decode()
    assert "60 ms" in html and "$0.001235" in html and "Rate limit exceeded" in html
    assert "60.412999" not in html
    export = operator.get(f"/admin/stats/usagerecord/export.csv?key={alice.pk}")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert sorted(row["request_id"] for row in rows) == ["req_a1", "req_a2"]
    assert {row["key_name"] for row in rows} == {"alice"}


def _team_records():
    from apps.keys.services import team_create

    payments, search = team_create(name="payments"), team_create(name="search")
    pay_key, _ = key_create(name="pay-api", team=payments)
    search_key, _ = key_create(name="search-api", team=search)
    usage_record(UsageData(request_id="req_pay", status_code=200, api_key_id=pay_key.pk, team_id=payments.pk,
                           model="gpt-4o", provider="openai"))
    usage_record(UsageData(request_id="req_search", status_code=200, api_key_id=search_key.pk, team_id=search.pk,
                           model="gpt-4o", provider="openai"))
    flush_all()
    return payments, search


def result_list(html: str) -> str:
    return html[html.index('id="result_list"'):].split("</table>")[0]


def test_it_filters_by_team(operator):
    payments, _ = _team_records()
    listed = result_list(operator.get(f"/admin/stats/usagerecord/?team={payments.pk}").content.decode())
    assert "pay-api" in listed and "search-api" not in listed
    rows = list(csv.DictReader(io.StringIO(operator.get(f"/admin/stats/usagerecord/export.csv?team={payments.pk}").content.decode())))
    assert [row["request_id"] for row in rows] == ["req_pay"]


def test_it_shows_a_team_member_only_their_teams_requests(client):
    from django.contrib.auth.models import Permission, User

    payments, search = _team_records()
    member = User.objects.create_user("payments-lead", password="a-long-test-password", is_staff=True)
    member.user_permissions.add(Permission.objects.get(codename="view_usagerecord"))
    payments.members.add(member)
    client.force_login(member)
    html = client.get("/admin/stats/usagerecord/").content.decode()
    assert "pay-api" in html and "search-api" not in html
    assert f"?team={search.pk}" not in html  # nor is the other team offered as a filter
    rows = list(csv.DictReader(io.StringIO(client.get("/admin/stats/usagerecord/export.csv").content.decode())))
    assert [row["request_id"] for row in rows] == ["req_pay"]

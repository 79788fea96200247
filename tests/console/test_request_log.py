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

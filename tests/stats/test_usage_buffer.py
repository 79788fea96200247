"""The usage buffer is bounded and counts what it has to drop."""

import pytest

from apps.stats import metrics, usage
from apps.stats.models import UsageRecord

pytestmark = pytest.mark.django_db


def dropped() -> float:
    return metrics.USAGE_DROPPED._value.get()


def test_it_drops_the_oldest_records_when_full_and_counts_them(monkeypatch):
    monkeypatch.setattr(usage, "MAX_BUFFERED", 3)
    usage._buffer.clear()
    before = dropped()
    for index in range(5):
        usage.usage_record(usage.UsageData(request_id=f"req_{index}", status_code=200))
    assert [u.request_id for u in usage._buffer] == ["req_2", "req_3", "req_4"]
    assert dropped() - before == 2
    usage.flush_all()
    assert list(UsageRecord.objects.order_by("id").values_list("request_id", flat=True)) == ["req_2", "req_3", "req_4"]

"""The usage buffer is bounded and counts what it has to drop."""

import pytest

from apps.stats import metrics, usage
from apps.stats.models import UsageRecord

pytestmark = pytest.mark.django_db


def dropped() -> float:
    return metrics.USAGE_DROPPED._value.get()


def test_it_drops_the_oldest_records_when_full_and_counts_them(monkeypatch):
    monkeypatch.setattr(usage, "MAX_BUFFERED", 3)
    before = dropped()
    for index in range(5):
        usage.usage_record(usage.UsageData(request_id=f"req_{index}", status_code=200))
    assert [u.request_id for u in usage.pending()] == ["req_2", "req_3", "req_4"]
    assert dropped() - before == 2
    usage.flush_all()
    assert list(UsageRecord.objects.order_by("id").values_list("request_id", flat=True)) == ["req_2", "req_3", "req_4"]


@pytest.mark.django_db(transaction=True)
def test_the_writer_backs_off_a_locked_table_and_keeps_its_records(empty_usage_buffer):
    """A writer that queued behind a lock would hold its own and could deadlock with, say,
    a TRUNCATE; it gives up after LOCK_TIMEOUT_MS instead, and writes once the lock is gone."""
    import threading

    import psycopg
    from django.db import connection

    settings = connection.settings_dict
    other = psycopg.connect(host=settings["HOST"], port=settings["PORT"], user=settings["USER"],
                            password=settings["PASSWORD"], dbname=settings["NAME"])
    try:
        other.execute("LOCK TABLE stats_keyrollup IN ACCESS EXCLUSIVE MODE")  # held until commit
        usage.usage_record(usage.UsageData(request_id="req_locked_out", status_code=200, api_key_id=1))
        outcome = []
        writer = threading.Thread(target=lambda: outcome.append(usage.flush_once()))  # as the app's writer does
        writer.start()
        writer.join(timeout=10)  # not a speed check: without the timeout the writer waits for ever
        assert outcome == [False]
        assert [u.request_id for u in usage.pending()] == ["req_locked_out"]
        assert not UsageRecord.objects.filter(request_id="req_locked_out").exists()
        other.commit()
        assert usage.flush_once() is True
        assert UsageRecord.objects.filter(request_id="req_locked_out").count() == 1
    finally:
        other.close()

"""The rollups grow with each written batch, in the batch's transaction."""

import datetime as dt

import pytest

from apps.keys.services import key_create
from apps.stats import usage
from apps.stats.models import KeyRollup, UsageRecord, UsageRollup
from apps.stats.usage import UsageData

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_usage_buffer")]

AT = dt.datetime(2026, 5, 4, 10, 15, tzinfo=dt.timezone.utc)


def add(key, count: int, *, tokens: int = 3, at=AT) -> None:
    for _ in range(count):
        usage.usage_record(UsageData(
            request_id="req_roll", status_code=200, api_key_id=key.pk, key_prefix=key.prefix, provider="openai",
            model="gpt-4o", prompt_tokens=tokens, latency_ms=5.0, created_at=at,
        ))
    usage.flush_all()


def test_it_adds_each_batch_to_the_hour_and_the_day(db):
    key, _ = key_create(name="kim")
    add(key, 3)
    add(key, 2, at=AT + dt.timedelta(minutes=30))
    add(key, 4, at=AT + dt.timedelta(hours=2))
    hours = UsageRollup.objects.filter(span="h").order_by("bucket")
    assert [(row.bucket, row.requests, row.prompt_tokens) for row in hours] == [
        (dt.datetime(2026, 5, 4, 10, tzinfo=dt.timezone.utc), 5, 15),
        (dt.datetime(2026, 5, 4, 12, tzinfo=dt.timezone.utc), 4, 12),
    ]
    day = UsageRollup.objects.get(span="d")
    assert (day.bucket, day.requests, day.latency_ms_sum) == (dt.datetime(2026, 5, 4, tzinfo=dt.timezone.utc), 9, 45.0)
    assert KeyRollup.objects.get(span="d", key_id=key.pk).requests == 9


def test_it_writes_no_rollup_when_the_batch_fails(db, monkeypatch):
    key, _ = key_create(name="lou")

    def broken_hook(batch):
        raise RuntimeError("database went away mid-batch")

    monkeypatch.setattr(usage, "batch_hooks", [*usage.batch_hooks, broken_hook])
    usage.usage_record(UsageData(request_id="req_fail", status_code=200, api_key_id=key.pk, provider="openai"))
    assert usage.flush_once() is False  # kept for a retry
    assert UsageRecord.objects.count() == 0 and UsageRollup.objects.count() == 0
    monkeypatch.setattr(usage, "batch_hooks", [hook for hook in usage.batch_hooks if hook is not broken_hook])
    usage.flush_all()
    assert UsageRecord.objects.count() == 1 and UsageRollup.objects.get(span="h").requests == 1

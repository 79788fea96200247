"""`?since=` counts exactly the records from that instant on, wherever it falls between
hour and day boundaries (raw rows, hourly and daily rollups are stitched together)."""

import datetime as dt

import pytest

from apps.keys.services import key_create
from apps.stats import usage
from apps.stats.rollups import rollups_rebuild
from apps.stats.selectors import stats_summary
from apps.stats.usage import UsageData

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_usage_buffer")]

START = dt.datetime(2026, 3, 1, 22, 40, tzinfo=dt.timezone.utc)
# Every 7 minutes for about two days: crosses hours, midnights, and lands on no boundary.
MOMENTS = [START + dt.timedelta(minutes=7 * n) for n in range(400)]


@pytest.fixture
def history(db):
    api_key, _ = key_create(name="heidi")
    for n, moment in enumerate(MOMENTS):
        throttled = n % 5 == 0
        usage.usage_record(UsageData(
            request_id=f"req_{n}", status_code=429 if throttled else 200, api_key_id=api_key.pk,
            key_prefix=api_key.prefix, provider="" if throttled else ("openai", "google")[n % 2],
            error_code="rate_limit_exceeded" if throttled else "", cache="exact" if n % 7 == 0 and not throttled else "",
            prompt_tokens=n, completion_tokens=1, latency_ms=10.0, created_at=moment,
        ))
    usage.flush_all()
    return MOMENTS


def expected(since: dt.datetime) -> tuple[int, int, int]:
    chosen = [n for n, moment in enumerate(MOMENTS) if moment >= since]
    throttled = [n for n in chosen if n % 5 == 0]
    exact = [n for n in chosen if n % 7 == 0 and n % 5]
    return len(chosen), len(throttled), len(exact)


@pytest.mark.parametrize("since", [
    START - dt.timedelta(days=1),
    START + dt.timedelta(minutes=1),
    dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.timezone.utc),
    dt.datetime(2026, 3, 2, 13, 0, tzinfo=dt.timezone.utc),
    dt.datetime(2026, 3, 2, 13, 29, 59, 500000, tzinfo=dt.timezone.utc),
    dt.datetime(2026, 3, 3, 23, 59, tzinfo=dt.timezone.utc),
    dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc),
])
def test_it_counts_exactly_the_records_since_an_instant(history, since):
    figures = stats_summary(since=since)
    total, throttled, exact = expected(since)
    assert figures["total_requests"] == total
    assert figures["rate_limit_stats"]["requests_throttled"] == throttled
    assert figures["cache_stats"]["exact_cache"]["hits"] == exact
    assert sum(p["requests"] for p in figures["provider_stats"].values()) == total - throttled - exact


def test_it_reads_the_same_figures_after_a_rebuild(history):
    since = dt.datetime(2026, 3, 2, 5, 17, tzinfo=dt.timezone.utc)
    incremental = [stats_summary(since=since), stats_summary()]
    rollups_rebuild()
    assert [stats_summary(since=since), stats_summary()] == incremental


def test_it_takes_since_as_an_iso_8601_query_parameter(client, admin_key, history):
    response = client.get("/stats", {"since": "2026-03-02T13:00:00Z"}, HTTP_X_API_KEY=admin_key)
    assert response.status_code == 200
    assert response.json()["total_requests"] == expected(dt.datetime(2026, 3, 2, 13, tzinfo=dt.timezone.utc))[0]
    offset = client.get("/stats", {"since": "2026-03-02T15:00:00+02:00"}, HTTP_X_API_KEY=admin_key)
    assert offset.json()["total_requests"] == response.json()["total_requests"]


def test_incremental_rollups_equal_a_rebuild_row_for_row(history):
    from apps.stats.models import KeyRollup, UsageRollup

    def table_rows():
        return [
            sorted(tuple(row.values()) for row in model.objects.values(*(f.name for f in model._meta.fields if f.name != "id")))
            for model in (UsageRollup, KeyRollup)
        ]

    incremental = table_rows()
    assert len(incremental[0]) > 50 and len(incremental[1]) > 50  # hours and days, several groups each
    rollups_rebuild()
    assert table_rows() == incremental


@pytest.mark.parametrize("since", ["", "yesterday"])
def test_it_refuses_an_empty_or_unreadable_since(client, admin_key, since):
    response = client.get(f"/stats?since={since}", HTTP_X_API_KEY=admin_key)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"
    assert "since" in response.json()["error"]["message"]

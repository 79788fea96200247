"""Hourly and daily sums of usage, kept current by the usage writer.

`rollups_add` is a `usage.batch_hooks` hook: it runs inside the transaction that inserts a
batch of UsageRecord rows, so a rollup can never disagree with the records (a failed
batch is rolled back and retried as a whole). It adds the batch with one
INSERT … ON CONFLICT DO UPDATE per table; rows are sent in a fixed order so two processes
flushing at once lock them in the same order and cannot deadlock.

`rollups_rebuild` recomputes everything from the records (after a bulk load, or to
repair); the migration runs the same SQL to backfill existing records.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection, transaction

from apps.stats.models import Span
from apps.stats.usage import UsageData

THROTTLED_CODE = "rate_limit_exceeded"
SPANS = ((Span.HOUR, "hour"), (Span.DAY, "day"))

USAGE_COLUMNS = (
    "requests", "throttled", "errors", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd", "latency_ms_sum",
)
KEY_COLUMNS = ("requests", "throttled", "total_tokens", "cost_usd")

REBUILD_USAGE_SQL = """
INSERT INTO stats_usagerollup (span, bucket, provider, model, cache, {columns})
SELECT %(span)s, date_trunc(%(unit)s, created_at, 'UTC'), provider, model, cache, COUNT(*),
       COUNT(*) FILTER (WHERE error_code = %(throttled)s), COUNT(*) FILTER (WHERE status_code >= 400),
       SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(cost_usd), SUM(latency_ms)
FROM stats_usagerecord GROUP BY 2, 3, 4, 5
""".format(columns=", ".join(USAGE_COLUMNS))

REBUILD_KEYS_SQL = """
INSERT INTO stats_keyrollup (span, bucket, key_id, key_prefix, {columns})
SELECT %(span)s, date_trunc(%(unit)s, created_at, 'UTC'), COALESCE(api_key_id, 0), MAX(key_prefix), COUNT(*),
       COUNT(*) FILTER (WHERE error_code = %(throttled)s), SUM(total_tokens), SUM(cost_usd)
FROM stats_usagerecord GROUP BY 2, 3
""".format(columns=", ".join(KEY_COLUMNS))


def bucket_start(moment: dt.datetime, span: str) -> dt.datetime:
    moment = moment.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if span == Span.DAY else moment


def rollups_add(batch: list[UsageData]) -> None:
    # The writer shares the GIL with the event loop: sum each record once into its hour,
    # with integer hour numbers, and derive the days from the hours.
    hours: dict[tuple, list] = {}
    key_hours: dict[tuple, list] = {}
    for record in batch:
        hour = int(record.created_at.timestamp()) // 3600
        throttled = int(record.error_code == THROTTLED_CODE)
        row = hours.get(group := (hour, record.provider, record.model, record.cache))
        if row is None:
            row = hours[group] = [0, 0, 0, 0, 0, 0, Decimal(0), 0.0]
        row[0] += 1
        row[1] += throttled
        row[2] += record.status_code >= 400
        row[3] += record.prompt_tokens
        row[4] += record.completion_tokens
        row[5] += record.total_tokens
        row[6] += record.cost_usd
        row[7] += record.latency_ms
        key_row = key_hours.get(group := (hour, record.api_key_id or 0))
        if key_row is None:
            key_row = key_hours[group] = [record.key_prefix, 0, 0, 0, Decimal(0)]
        key_row[1] += 1
        key_row[2] += throttled
        key_row[3] += record.total_tokens
        key_row[4] += record.cost_usd
    with connection.cursor() as cursor:
        _upsert(cursor, "stats_usagerollup", ("span", "bucket", "provider", "model", "cache"), USAGE_COLUMNS, _by_span(hours))
        _upsert(cursor, "stats_keyrollup", ("span", "bucket", "key_id"), ("key_prefix", *KEY_COLUMNS), _by_span(key_hours, sums_from=1))


def _by_span(hours: dict[tuple, list], *, sums_from: int = 0) -> dict[tuple, list]:
    """{(hour number, *group): row} -> {(span, bucket, *group): row}, for hours and days;
    the row's values from index `sums_from` on are sums (a key row starts with its prefix)."""
    rows: dict[tuple, list] = {}
    for (hour, *group), sums in hours.items():
        rows[(Span.HOUR, _hour_start(hour), *group)] = list(sums)
        day = rows.get(day_group := (Span.DAY, _hour_start(hour - hour % 24), *group))
        if day is None:
            rows[day_group] = list(sums)
        else:
            _add(day, sums, start=sums_from)
    return rows


def _hour_start(hour: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(hour * 3600, dt.timezone.utc)


def rollups_rebuild() -> None:
    """Recomputes every rollup from the records, in one transaction."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM stats_usagerollup")
        cursor.execute("DELETE FROM stats_keyrollup")
        for span, unit in SPANS:
            params = {"span": str(span), "unit": unit, "throttled": THROTTLED_CODE}
            cursor.execute(REBUILD_USAGE_SQL, params)
            cursor.execute(REBUILD_KEYS_SQL, params)


def _add(row: list, values: tuple, start: int = 0) -> None:
    for index in range(start, len(values)):
        row[index] += values[index]


def _upsert(cursor, table: str, conflict: tuple[str, ...], columns: tuple[str, ...], rows: dict[tuple, list]) -> None:
    if not rows:
        return
    placeholders = "(" + ", ".join(["%s"] * (len(conflict) + len(columns))) + ")"
    # key_prefix is kept as first written; every other column is a sum.
    updates = ", ".join(f"{name} = {table}.{name} + EXCLUDED.{name}" for name in columns if name != "key_prefix")
    sql = (
        f"INSERT INTO {table} ({', '.join(conflict + columns)}) VALUES {', '.join([placeholders] * len(rows))} "
        f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {updates}"
    )
    params = [value for key in sorted(rows) for value in (*key, *rows[key])]
    cursor.execute(sql, params)

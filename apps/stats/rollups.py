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
from collections import defaultdict
from decimal import Decimal

from django.db import connection, transaction

from apps.stats.models import Span
from apps.stats.usage import UsageData

THROTTLED_CODE = "rate_limit_exceeded"
SPANS = ((Span.HOUR, "hour"), (Span.DAY, "day"))

USAGE_COLUMNS = (
    "requests", "throttled", "errors", "prompt_tokens", "completion_tokens", "total_tokens", "cost_usd", "latency_ms_sum",
)
KEY_COLUMNS = ("requests", "throttled", "total_tokens")

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
       COUNT(*) FILTER (WHERE error_code = %(throttled)s), SUM(total_tokens)
FROM stats_usagerecord GROUP BY 2, 3
""".format(columns=", ".join(KEY_COLUMNS))


def bucket_start(moment: dt.datetime, span: str) -> dt.datetime:
    moment = moment.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if span == Span.DAY else moment


def rollups_add(batch: list[UsageData]) -> None:
    usage: dict[tuple, list] = defaultdict(lambda: [0, 0, 0, 0, 0, 0, Decimal(0), 0.0])
    keys: dict[tuple, list] = defaultdict(lambda: ["", 0, 0, 0])
    for record in batch:
        throttled = int(record.error_code == THROTTLED_CODE)
        for span, _ in SPANS:
            bucket = bucket_start(record.created_at, span)
            _add(usage[(span, bucket, record.provider, record.model, record.cache)], (
                1, throttled, int(record.status_code >= 400), record.prompt_tokens, record.completion_tokens,
                record.total_tokens, Decimal(record.cost_usd), record.latency_ms,
            ))
            key_row = keys[(span, bucket, record.api_key_id or 0)]
            key_row[0] = key_row[0] or record.key_prefix
            _add(key_row, ("", 1, throttled, record.total_tokens), start=1)
    with connection.cursor() as cursor:
        _upsert(cursor, "stats_usagerollup", ("span", "bucket", "provider", "model", "cache"), USAGE_COLUMNS, usage)
        _upsert(cursor, "stats_keyrollup", ("span", "bucket", "key_id"), ("key_prefix", *KEY_COLUMNS), keys)


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

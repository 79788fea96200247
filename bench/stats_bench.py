"""How fast is GET /stats with a million usage records?

    .venv/bin/python bench/stats_bench.py [--rows 1000000] [--calls 50] [--keep]

Creates a database of its own (pgw_stats_bench) on the configured server (the embedded
Postgres unless DATABASE_URL is set) and migrates it, loads N UsageRecord rows spread over
30 days with generate_series (100 keys, every configured model, cache hits, throttling),
builds the rollups, then times /stats through the whole Django stack (middleware, admin key
authentication, DRF) with the test client: without a window, and with `since` windows
that make it read raw rows, hourly and daily rollups. Also times the rollup hook on the
write path (one 500-record batch). Drops the database at the end unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from apps.keys.services import key_create  # noqa: E402
from apps.stats import usage  # noqa: E402
from apps.stats.rollups import rollups_rebuild  # noqa: E402
from apps.stats.usage import UsageData  # noqa: E402
from gateway_site.gateway_config import get_config  # noqa: E402

BENCH_DB = "pgw_stats_bench"
KEYS = 100

LOAD_SQL = """
INSERT INTO stats_usagerecord (created_at, request_id, api_key_id, key_prefix, model, provider, prompt_tokens,
    completion_tokens, total_tokens, cost_usd, latency_ms, ttft_ms, status_code, error_code, cache, stream,
    attempts, fallback_from, tokens_estimated, team_id)
SELECT now() - (i::bigint * %(step)s) * interval '1 millisecond',
       'req_' || i,
       k.id, k.prefix,
       CASE WHEN i %% 40 = 0 THEN '' ELSE m.model END,
       CASE WHEN i %% 40 = 0 THEN '' ELSE m.provider END,
       CASE WHEN i %% 40 = 0 THEN 0 ELSE 20 + i %% 300 END,
       CASE WHEN i %% 40 = 0 THEN 0 ELSE 5 + i %% 200 END,
       CASE WHEN i %% 40 = 0 THEN 0 ELSE 25 + i %% 300 + i %% 200 END,
       0.0001, 50 + (i %% 1000), NULL,
       CASE WHEN i %% 40 = 0 THEN 429 WHEN i %% 97 = 0 THEN 502 ELSE 200 END,
       CASE WHEN i %% 40 = 0 THEN 'rate_limit_exceeded' WHEN i %% 97 = 0 THEN 'provider_error' ELSE '' END,
       CASE WHEN i %% 40 = 0 THEN '' WHEN i %% 10 = 1 THEN 'exact' WHEN i %% 10 = 2 THEN 'semantic' ELSE '' END,
       i %% 3 = 0, 1, '', false, NULLIF(k.n %% 5, 0)
FROM generate_series(1, %(rows)s) AS i
JOIN (SELECT id, prefix, row_number() OVER (ORDER BY id) - 1 AS n FROM keys_apikey) AS k ON k.n = i %% %(keys)s
JOIN (SELECT * FROM unnest(%(models)s::text[], %(providers)s::text[]) WITH ORDINALITY AS t(model, provider, n)) AS m
  ON m.n - 1 = i %% %(model_count)s
"""


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def create_database() -> str:
    connection.settings_dict.setdefault("TEST", {})["NAME"] = BENCH_DB
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    return old_name


def load(rows: int) -> str:
    admin, raw_admin = key_create(name="bench-admin", is_admin=True)
    for n in range(KEYS):
        key_create(name=f"bench-{n}")
    routes = list(get_config().models.values())
    params = {
        "rows": rows, "keys": KEYS + 1, "step": 30 * 86_400_000 // rows, "model_count": len(routes),
        "models": [route.name for route in routes], "providers": [route.provider.name for route in routes],
    }
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(LOAD_SQL, params)
        cursor.execute("ANALYZE stats_usagerecord")
    print(f"loaded {rows:,} usage records in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    rollups_rebuild()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE stats_usagerollup")
        cursor.execute("ANALYZE stats_keyrollup")
        cursor.execute("SELECT (SELECT COUNT(*) FROM stats_usagerollup), (SELECT COUNT(*) FROM stats_keyrollup)")
        usage_rows, key_rows = cursor.fetchone()
    print(f"built rollups in {time.perf_counter() - started:.1f} s ({usage_rows:,} usage rows, {key_rows:,} key rows)")
    return raw_admin


def time_stats(client: Client, admin_key: str, calls: int, since: dt.datetime | None) -> tuple[list[float], dict]:
    params = {"since": since.isoformat()} if since else {}
    body = client.get("/stats", params, HTTP_X_API_KEY=admin_key).json()  # warm-up
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        response = client.get("/stats", params, HTTP_X_API_KEY=admin_key)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content
    return samples, body


def time_raw_scan(calls: int = 5) -> float:
    """What /stats would cost without rollups: one aggregate over every record."""
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT provider, cache, COUNT(*), SUM(total_tokens), SUM(latency_ms) FROM stats_usagerecord GROUP BY 1, 2"
            )
            cursor.fetchall()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def time_batch_write(batches: int = 20) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(id) FROM keys_apikey")
        key_id = cursor.fetchone()[0]
    samples = []
    for _ in range(batches):
        for n in range(usage.BATCH_SIZE):
            usage.usage_record(UsageData(
                request_id=f"req_w{n}", status_code=200, api_key_id=key_id, key_prefix="pgw-bench", provider="openai",
                model="gpt-4o", prompt_tokens=10, completion_tokens=n % 50, latency_ms=100.0, cache=("", "exact")[n % 2],
            ))
        started = time.perf_counter()
        assert usage.flush_once()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the pgw_stats_bench database")
    args = parser.parse_args()

    old_name = create_database()
    try:
        admin_key = load(args.rows)
        client = Client()
        now = dt.datetime.now(dt.timezone.utc)
        windows = {
            "all records": None,
            "since 24 h ago (raw + hourly + daily)": now - dt.timedelta(hours=24, minutes=17),
            "since 7 days ago": now - dt.timedelta(days=7, minutes=41),
        }
        for label, since in windows.items():
            samples, body = time_stats(client, admin_key, args.calls, since)
            print(f"/stats {label}: p50 {percentile(samples, 0.5):.1f} ms, p95 {percentile(samples, 0.95):.1f} ms "
                  f"over {args.calls} calls (total_requests={body['total_requests']:,})")
        print(f"for comparison, one GROUP BY over all records (no rollups): median {time_raw_scan():.0f} ms")
        with_rollups = time_batch_write()
        hooks, usage.batch_hooks[:] = list(usage.batch_hooks), []
        without = time_batch_write()
        usage.batch_hooks[:] = hooks
        print(f"usage batch of {usage.BATCH_SIZE} written: median {with_rollups:.1f} ms with rollups, "
              f"{without:.1f} ms without")
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()

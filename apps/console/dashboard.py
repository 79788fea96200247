"""The console dashboard's figures, for one time window, from the usage rollups.

Windows of 24 h and 7 d read the hourly rollups (one row per hour, provider, model and
cache outcome: a few thousand rows at most, whatever the traffic); the 1 h window reads
the raw records of the last hour, per minute, through the created_at index. Latency
percentiles need single requests: they come from the most recent records only.

Teams and budgets: `team_figures()`: spend per team in the window and how much of each
team's budget its current period has used.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Sum
from django.urls import reverse

from apps.keys.models import ApiKey, BudgetPeriod, Team
from apps.stats.models import KeyRollup, Span
from apps.stats.rollups import THROTTLED_CODE, bucket_start
from apps.stats.selectors import configured_providers
from gateway_site.breaker import provider_breakers
from gateway_site.errors import BudgetExceeded

WINDOWS = {"1h": dt.timedelta(hours=1), "24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7)}
DEFAULT_WINDOW = "24h"
TOP_KEYS = 10
LATENCY_SAMPLE = 5000  # most recent upstream answers the percentiles are taken from
BUDGET_CODE = BudgetExceeded.code  # "budget_exceeded"

# Same columns from both sources: bucket, provider, model, cache, then the sums.
_FROM_RECORDS = """
SELECT date_trunc('minute', created_at) AS bucket, provider, model, cache, 1 AS requests,
       (status_code >= 400)::int AS errors, (error_code = %(throttled)s)::int AS throttled,
       total_tokens AS tokens, cost_usd AS cost
FROM stats_usagerecord WHERE created_at >= %(since)s
"""
_FROM_ROLLUPS = """
SELECT bucket, provider, model, cache, requests, errors, throttled, total_tokens AS tokens, cost_usd AS cost
FROM stats_usagerollup WHERE span = 'h' AND bucket >= %(since)s
"""
_GROUPS_SQL = """
SELECT bucket, provider, model, cache, SUM(requests), SUM(errors), SUM(throttled), SUM(tokens), SUM(cost)
FROM ({source}) AS usage GROUP BY 1, 2, 3, 4 ORDER BY 1
"""
_LATENCY_SQL = """
SELECT provider, percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms), COUNT(*)
FROM (SELECT provider, latency_ms FROM stats_usagerecord
      WHERE created_at >= %(since)s AND provider <> '' AND cache = '' AND error_code <> %(throttled)s
        AND error_code <> %(budget)s
      ORDER BY created_at DESC LIMIT %(sample)s) AS recent
GROUP BY provider
"""
# Budget refusals are not in the rollups (which count only rate-limit throttles); the
# records' partial index on them (stats_usage_budget_refused) keeps this cheap.
_BUDGET_REFUSALS_SQL = """
SELECT date_trunc(%(unit)s, created_at) AS bucket, provider, COUNT(*)
FROM stats_usagerecord WHERE error_code = %(budget)s AND created_at >= %(since)s GROUP BY 1, 2
"""
_TOP_KEYS_SQL = """
SELECT key_id, SUM(cost_usd) AS spend, SUM(requests) AS requests, SUM(total_tokens)
FROM stats_keyrollup WHERE span = 'h' AND bucket >= %(since)s AND key_id <> 0
GROUP BY 1 ORDER BY spend DESC, requests DESC, key_id LIMIT %(top)s
"""


def window_since(window: str, now: dt.datetime | None = None) -> dt.datetime:
    now = now or dt.datetime.now(dt.timezone.utc)
    since = now - WINDOWS[window]
    return since if window == "1h" else bucket_start(since, "h")


def dashboard_figures(*, window: str = DEFAULT_WINDOW) -> dict[str, Any]:
    if window not in WINDOWS:
        window = DEFAULT_WINDOW
    since = window_since(window)
    params = {"since": since, "throttled": THROTTLED_CODE, "budget": BUDGET_CODE, "sample": LATENCY_SAMPLE, "top": TOP_KEYS}
    source = _FROM_RECORDS if window == "1h" else _FROM_ROLLUPS
    with connection.cursor() as cursor:
        cursor.execute(_GROUPS_SQL.format(source=source), params)
        # SUM over bigint is numeric in PostgreSQL: counts back to int, cost stays Decimal.
        groups = [(*row[:4], *(int(value or 0) for value in row[4:8]), row[8] or Decimal(0)) for row in cursor.fetchall()]
        cursor.execute(_LATENCY_SQL, params)
        latency = {provider: (p50, p95, count) for provider, p50, p95, count in cursor.fetchall()}
        cursor.execute(_TOP_KEYS_SQL, {**params, "since": bucket_start(since, "h")})
        top_keys = cursor.fetchall()
        unit = "minute" if window == "1h" else "hour"
        cursor.execute(_BUDGET_REFUSALS_SQL, {"unit": unit, "budget": BUDGET_CODE, "since": since})
        refusal_rows = cursor.fetchall()
    refusals: dict[dt.datetime, int] = defaultdict(int)
    refused_by_provider: dict[str, int] = defaultdict(int)
    for bucket, provider, count in refusal_rows:
        refusals[bucket] += int(count)
        refused_by_provider[provider] += int(count)
    return {
        "window": window,
        "since": since.isoformat(),
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        **_totals_and_series(groups, buckets=_buckets(since, window), refusals=refusals),
        "providers": _providers(groups, latency, refused=refused_by_provider),
        "top_keys": _top_keys(top_keys),
        "teams": team_figures(since=since),
    }


def _money(value: Decimal | float | None) -> float:
    return round(float(value or 0), 6)


def _buckets(since: dt.datetime, window: str) -> list[dt.datetime]:
    """Every bucket of the window, so quiet hours show as zeros rather than gaps."""
    step = dt.timedelta(minutes=1) if window == "1h" else dt.timedelta(hours=1)
    first = since.replace(second=0, microsecond=0) if window == "1h" else bucket_start(since, "h")
    now = dt.datetime.now(dt.timezone.utc)
    return [first + step * index for index in range(int((now - first) / step) + 1)]


def _totals_and_series(groups: list[tuple], *, buckets: list[dt.datetime],
                       refusals: dict[dt.datetime, int] | None = None) -> dict[str, Any]:
    """Totals and per-bucket series. `errors` excludes rate-limit throttles and budget
    refusals, which have their own series (`refusals`: budget refusals per bucket)."""
    refusals = refusals or {}
    series: dict[dt.datetime, list] = {bucket: [0, 0, 0, Decimal(0)] for bucket in buckets}
    models: dict[str, list] = defaultdict(lambda: [0, 0, Decimal(0)])
    cache = {"exact": 0, "semantic": 0}
    for bucket, _provider, model, cache_kind, requests, errors, throttled, tokens, cost in groups:
        point = series.setdefault(bucket, [0, 0, 0, Decimal(0)])
        point[0] += requests
        point[1] += errors - throttled
        point[2] += throttled
        point[3] += cost or 0
        if model:
            row = models[model]
            row[0] += requests
            row[1] += tokens or 0
            row[2] += cost or 0
        if cache_kind in cache:
            cache[cache_kind] += requests
    for bucket, count in refusals.items():
        point = series.setdefault(bucket, [0, 0, 0, Decimal(0)])
        point[1] -= count  # counted among the errors by the rollups
    series = dict(sorted(series.items()))
    refused = [refusals.get(bucket, 0) for bucket in series]
    requests = sum(point[0] for point in series.values())
    throttled = sum(point[2] for point in series.values())
    looked_up = requests - throttled - sum(refused)  # refused requests never reach a cache
    return {
        "totals": {
            "requests": requests,
            "errors": sum(point[1] for point in series.values()),
            "throttled": throttled,
            "budget_refused": sum(refused),
            "spend_usd": _money(sum((point[3] for point in series.values()), Decimal(0))),
            "tokens": sum(row[1] for row in models.values()),
        },
        "series": {
            "labels": [bucket.isoformat() for bucket in series],
            "requests": [point[0] for point in series.values()],
            "errors": [point[1] for point in series.values()],
            "throttled": [point[2] for point in series.values()],
            "budget_refused": refused,
            "spend_usd": [_money(point[3]) for point in series.values()],
        },
        "models": [
            {"model": name, "requests": row[0], "tokens": row[1], "spend_usd": _money(row[2])}
            for name, row in sorted(models.items(), key=lambda item: (-item[1][2], -item[1][0]))
        ],
        "cache": {
            "exact_hit_rate": _rate(cache["exact"], looked_up),
            "semantic_hit_rate": _rate(cache["semantic"], looked_up - cache["exact"]),
            "exact_hits": cache["exact"],
            "semantic_hits": cache["semantic"],
        },
    }


def _rate(hits: int, lookups: int) -> float:
    return round(hits / lookups, 4) if lookups > 0 else 0.0


def _providers(groups: list[tuple], latency: dict[str, tuple], *, refused: dict[str, int]) -> list[dict[str, Any]]:
    """Every configured provider, with its answers (cache hits, throttled requests and
    budget refusals never reached it), errors, latency and breaker. The breaker is this
    process's view."""
    sums: dict[str, list[int]] = {name: [0, 0] for name in configured_providers()}
    for _bucket, provider, _model, cache_kind, requests, errors, throttled, _tokens, _cost in groups:
        if provider and not cache_kind:
            row = sums.setdefault(provider, [0, 0])
            row[0] += requests - throttled
            row[1] += errors - throttled
    for provider, count in refused.items():
        if provider in sums:
            sums[provider][0] -= count
            sums[provider][1] -= count
    breakers = provider_breakers()
    figures = []
    for name, (requests, errors) in sorted(sums.items()):
        p50, p95, sample = latency.get(name, (None, None, 0))
        figures.append({
            "provider": name, "requests": requests, "errors": errors, "error_rate": _rate(errors, requests),
            "latency_p50_ms": round(p50) if p50 is not None else None,
            "latency_p95_ms": round(p95) if p95 is not None else None,
            "latency_sample": sample, "breaker": breakers.state(name),
        })
    return figures


def _top_keys(rows: list[tuple]) -> list[dict[str, Any]]:
    names = dict(ApiKey.objects.filter(pk__in=[row[0] for row in rows]).values_list("pk", "name"))
    return [
        {"id": key_id, "name": names.get(key_id, f"deleted key #{key_id}"), "exists": key_id in names,
         "spend_usd": _money(spend), "requests": int(requests), "tokens": int(tokens or 0)}
        for key_id, spend, requests, tokens in rows
    ]


def team_figures(*, since: dt.datetime) -> list[dict[str, Any]]:
    """Spend per team in the window (from the hourly key rollups), each team's budget and
    how much of it its current period has used: the teams close to exhaustion come first."""
    spend = dict(
        KeyRollup.objects.filter(span=Span.HOUR, bucket__gte=bucket_start(since, Span.HOUR), team_id__gt=0)
        .values_list("team_id").annotate(total=Sum("cost_usd"))
    )
    figures = []
    for team in Team.objects.all():
        used = _period_spend(team) if team.budget_usd else None
        figures.append({
            "name": team.name, "url": reverse("admin:keys_team_change", args=[team.pk]),
            "spend_usd": float(spend.get(team.pk) or 0),
            "budget_usd": float(team.budget_usd) if team.budget_usd else None,
            "budget_used": float(used / team.budget_usd) if used is not None else None,
        })
    return sorted(figures, key=lambda team: (-(team["budget_used"] or 0), -team["spend_usd"]))


def _period_spend(team: Team) -> Decimal:
    """What the team spent in its budget's current period (UTC), from the hourly rollups."""
    now = dt.datetime.now(dt.timezone.utc)
    start = {
        BudgetPeriod.DAY: now.replace(hour=0, minute=0, second=0, microsecond=0),
        BudgetPeriod.MONTH: now.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
    }.get(team.budget_period, dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc))
    total = KeyRollup.objects.filter(span=Span.HOUR, bucket__gte=start, team_id=team.pk).aggregate(total=Sum("cost_usd"))
    return total["total"] or Decimal(0)

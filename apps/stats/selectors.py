"""Reading usage figures for /stats: the whole gateway, from the database, never a scan.

A window [since, now) is cut into three parts, each read where it is cheapest:
    [since, next full hour)           raw UsageRecord rows (at most one hour, by index)
    [that hour, next midnight)        hourly rollups (at most 23 hours)
    [that midnight, now)              daily rollups
Without `since`, everything comes from the daily rollups. One query per figure set, so
the cost depends on days and dimensions, not on the number of records.

Definitions (docs/operations-metrics.md):
- total_requests: every recorded /v1/chat/completions request, throttled ones included.
- requests_throttled: requests refused by the gateway's rate limiter (429).
- A request that was not throttled looked in the exact cache first, then the semantic
  cache. exact: hits = answered from it, misses = the rest. semantic: hits = answered
  from it, misses = requests that missed both. Requests sent with Cache-Control no-cache
  count as misses.
- provider_stats: requests that reached a provider (not cache hits, not throttled),
  errors included; avg_latency in seconds, measured by the gateway end to end.
- spend_stats: USD, the cost of every answered request at gateway.yaml's prices (cache hits
  and refusals cost 0); per team as the key's team was when the request was made.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from apps.stats.models import Span
from apps.stats.rollups import THROTTLED_CODE, bucket_start
from gateway_site.gateway_config import ConfigError, get_config

BEGINNING = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
TOP_USERS = 10
TOP_SPENDERS = 10

_USAGE_SQL = """
SELECT provider, cache, SUM(requests), SUM(throttled), SUM(total_tokens), SUM(latency_ms_sum) FROM (
    SELECT provider, cache, COUNT(*) AS requests, COUNT(*) FILTER (WHERE error_code = %(throttled)s) AS throttled,
           SUM(total_tokens) AS total_tokens, SUM(latency_ms) AS latency_ms_sum
    FROM stats_usagerecord WHERE created_at >= %(since)s AND created_at < %(hours_from)s GROUP BY 1, 2
    UNION ALL
    SELECT provider, cache, SUM(requests), SUM(throttled), SUM(total_tokens), SUM(latency_ms_sum)
    FROM stats_usagerollup WHERE span = %(hour)s AND bucket >= %(hours_from)s AND bucket < %(days_from)s GROUP BY 1, 2
    UNION ALL
    SELECT provider, cache, SUM(requests), SUM(throttled), SUM(total_tokens), SUM(latency_ms_sum)
    FROM stats_usagerollup WHERE span = %(day)s AND bucket >= %(days_from)s GROUP BY 1, 2
) AS parts GROUP BY 1, 2
"""

_USERS_SQL = """
SELECT key_id, MAX(key_prefix), SUM(requests) AS total, SUM(throttled) FROM (
    SELECT COALESCE(api_key_id, 0) AS key_id, MAX(key_prefix) AS key_prefix, COUNT(*) AS requests,
           COUNT(*) FILTER (WHERE error_code = %(throttled)s) AS throttled
    FROM stats_usagerecord WHERE created_at >= %(since)s AND created_at < %(hours_from)s GROUP BY 1
    UNION ALL
    SELECT key_id, MAX(key_prefix), SUM(requests), SUM(throttled)
    FROM stats_keyrollup WHERE span = %(hour)s AND bucket >= %(hours_from)s AND bucket < %(days_from)s GROUP BY 1
    UNION ALL
    SELECT key_id, MAX(key_prefix), SUM(requests), SUM(throttled)
    FROM stats_keyrollup WHERE span = %(day)s AND bucket >= %(days_from)s GROUP BY 1
) AS parts WHERE key_id <> 0 GROUP BY 1 ORDER BY total DESC, key_id LIMIT %(top)s
"""


_SPEND_SQL = """
SELECT provider, model, SUM(cost) FROM (
    SELECT provider, model, SUM(cost_usd) AS cost
    FROM stats_usagerecord WHERE created_at >= %(since)s AND created_at < %(hours_from)s GROUP BY 1, 2
    UNION ALL
    SELECT provider, model, SUM(cost_usd)
    FROM stats_usagerollup WHERE span = %(hour)s AND bucket >= %(hours_from)s AND bucket < %(days_from)s GROUP BY 1, 2
    UNION ALL
    SELECT provider, model, SUM(cost_usd)
    FROM stats_usagerollup WHERE span = %(day)s AND bucket >= %(days_from)s GROUP BY 1, 2
) AS parts WHERE provider <> '' GROUP BY 1, 2
"""

_KEY_SPEND_SQL = """
SELECT key_id, team_id, MAX(key_prefix), SUM(cost) FROM (
    SELECT COALESCE(api_key_id, 0) AS key_id, COALESCE(team_id, 0) AS team_id, MAX(key_prefix) AS key_prefix,
           SUM(cost_usd) AS cost
    FROM stats_usagerecord WHERE created_at >= %(since)s AND created_at < %(hours_from)s GROUP BY 1, 2
    UNION ALL
    SELECT key_id, team_id, MAX(key_prefix), SUM(cost_usd)
    FROM stats_keyrollup WHERE span = %(hour)s AND bucket >= %(hours_from)s AND bucket < %(days_from)s GROUP BY 1, 2
    UNION ALL
    SELECT key_id, team_id, MAX(key_prefix), SUM(cost_usd)
    FROM stats_keyrollup WHERE span = %(day)s AND bucket >= %(days_from)s GROUP BY 1, 2
) AS parts GROUP BY 1, 2 HAVING SUM(cost) > 0
"""


@dataclass
class _Group:
    provider: str
    cache: str
    requests: int
    throttled: int
    tokens: int
    latency_ms_sum: float


def stats_summary(*, since: dt.datetime | None = None) -> dict:
    params = _window(since)
    groups = _usage_groups(params)
    total = sum(group.requests for group in groups)
    throttled = sum(group.throttled for group in groups)
    return {
        "total_requests": total,
        "cache_stats": _cache_stats(groups, looked_up=total - throttled),
        "provider_stats": _provider_stats(groups),
        "rate_limit_stats": {"requests_throttled": throttled, "top_users": _top_users(params)},
        "spend_stats": _spend_stats(params),
        "since": since.isoformat() if since else None,
    }


def _window(since: dt.datetime | None) -> dict:
    if since is None:
        since = hours_from = days_from = BEGINNING
    else:
        hours_from = _next_boundary(since, Span.HOUR)
        days_from = _next_boundary(hours_from, Span.DAY)
    return {
        "since": since, "hours_from": hours_from, "days_from": days_from, "hour": str(Span.HOUR),
        "day": str(Span.DAY), "throttled": THROTTLED_CODE, "top": TOP_USERS,
    }


def _next_boundary(moment: dt.datetime, span: str) -> dt.datetime:
    start = bucket_start(moment, span)
    if start == moment:
        return start
    return start + (dt.timedelta(days=1) if span == Span.DAY else dt.timedelta(hours=1))


def _usage_groups(params: dict) -> list[_Group]:
    with connection.cursor() as cursor:
        cursor.execute(_USAGE_SQL, params)
        return [_Group(p, c, int(r), int(t), int(k or 0), float(l or 0)) for p, c, r, t, k, l in cursor.fetchall()]


def _cache_stats(groups: list[_Group], *, looked_up: int) -> dict:
    exact = sum(group.requests for group in groups if group.cache == "exact")
    semantic = sum(group.requests for group in groups if group.cache == "semantic")
    return {
        "exact_cache": _hits_and_misses(exact, looked_up - exact),
        "semantic_cache": _hits_and_misses(semantic, looked_up - exact - semantic),
    }


def _hits_and_misses(hits: int, misses: int) -> dict:
    lookups = hits + misses
    return {"hits": hits, "misses": misses, "hit_rate": round(hits / lookups, 4) if lookups else 0.0}


def _provider_stats(groups: list[_Group]) -> dict:
    sums: dict[str, list] = {name: [0, 0, 0.0] for name in configured_providers()}
    for group in groups:
        if group.cache or not group.provider:
            continue  # cache hits and throttled requests never reached a provider
        row = sums.setdefault(group.provider, [0, 0, 0.0])
        row[0] += group.requests - group.throttled
        row[1] += group.tokens
        row[2] += group.latency_ms_sum
    return {name: _provider_figures(*row) for name, row in sums.items()}


def _provider_figures(requests: int, tokens: int, latency_ms_sum: float) -> dict:
    average = round(latency_ms_sum / requests / 1000, 3) if requests else 0.0
    return {"requests": requests, "tokens": tokens, "avg_latency": average}


def configured_providers() -> list[str]:
    try:
        return list(get_config().providers)
    except ConfigError:
        return []


def _top_users(params: dict) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(_USERS_SQL, params)
        rows = cursor.fetchall()
    # Only the stored display prefix ever leaves the database: never a raw key.
    return [
        {"api_key": f"{prefix}…", "requests": int(requests), "throttled": int(throttled)}
        for _, prefix, requests, throttled in rows
    ]


def _spend_stats(params: dict) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(_SPEND_SQL, params)
        by_model = cursor.fetchall()
        cursor.execute(_KEY_SPEND_SQL, params)
        by_key = cursor.fetchall()
    providers: dict[str, Decimal] = {}
    for provider, _, cost in by_model:
        providers[provider] = providers.get(provider, Decimal(0)) + cost
    teams: dict[int, Decimal] = {}
    keys: dict[int, list] = {}
    for key_id, team_id, prefix, cost in by_key:
        if team_id:
            teams[team_id] = teams.get(team_id, Decimal(0)) + cost
        if key_id:
            row = keys.setdefault(key_id, [prefix, Decimal(0)])
            row[1] += cost
    top = sorted(keys.items(), key=lambda item: (-item[1][1], item[0]))[:TOP_SPENDERS]
    names = _team_names(teams)
    return {
        "total_usd": _usd(sum(providers.values(), Decimal(0))),
        "by_provider": {name: _usd(cost) for name, cost in sorted(providers.items())},
        "by_model": {model: _usd(cost) for _, model, cost in sorted(by_model, key=lambda row: row[1])},
        "by_team": [{"team": names.get(team_id, f"#{team_id}"), "cost_usd": _usd(cost)}
                    for team_id, cost in sorted(teams.items(), key=lambda item: -item[1])],
        # Only the stored display prefix: never a raw key.
        "top_keys": [{"api_key": f"{prefix}…", "cost_usd": _usd(cost)} for _, (prefix, cost) in top],
    }


def _team_names(teams: dict[int, Decimal]) -> dict[int, str]:
    from apps.keys.models import Team

    return dict(Team.objects.filter(pk__in=list(teams)).values_list("id", "name")) if teams else {}


def _usd(amount: Decimal) -> float:
    return float(round(amount, 8))

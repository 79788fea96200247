"""Every Prometheus metric of the gateway, defined once.

With several worker processes set PROMETHEUS_MULTIPROC_DIR (docs/configuration.md):
prometheus_client then writes each process's values to files that /metrics aggregates.
Labels never carry an API key.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

REQUESTS = Counter("gateway_requests_total", "HTTP requests served", ["method", "endpoint", "status"])
REQUEST_DURATION = Histogram(
    "gateway_request_duration_seconds", "Time to the response headers", ["endpoint"], buckets=LATENCY_BUCKETS
)
CACHE_HITS = Counter("gateway_cache_hits_total", "Answers served from a cache", ["cache_type"])
CACHE_MISSES = Counter("gateway_cache_misses_total", "Cache lookups that found nothing", ["cache_type"])
CACHE_WRITES_DROPPED = Counter(
    "gateway_cache_writes_dropped_total", "Cache writes not done: backlog (too many pending) or failed", ["reason"]
)
SEMANTIC_LOOKUPS = Counter("gateway_semantic_lookups_total", "Semantic lookups performed (embedded and searched)")
SEMANTIC_SKIPPED = Counter(
    "gateway_semantic_skipped_total",
    "Semantic lookups skipped: the embedding service was saturated, warming, unavailable, too slow (timeout, late)",
    ["reason"],
)
SEMANTIC_STORES_DROPPED = Counter(
    "gateway_semantic_stores_dropped_total", "Semantic stores not done: queue_full, no_vector, database, failed", ["reason"]
)
TOKENS = Counter("gateway_tokens_used_total", "Tokens counted from upstream usage", ["provider", "model", "type"])
COST = Counter("gateway_cost_usd_total", "Estimated upstream cost in USD", ["provider", "model"])
RATE_LIMITED = Counter("gateway_rate_limit_rejections_total", "Requests refused by a rate limit", ["limit"])
BUDGET_REJECTIONS = Counter("gateway_budget_rejections_total", "Requests refused because a budget was spent", ["scope"])
RATE_LIMIT_FAIL_OPEN = Counter("gateway_rate_limit_fail_open_total", "Requests let through because Redis was unavailable")
UPSTREAM_LATENCY = Histogram(
    "gateway_upstream_latency_seconds", "Upstream time to response headers", ["provider"], buckets=LATENCY_BUCKETS
)
UPSTREAM_ERRORS = Counter("gateway_upstream_errors_total", "Failed upstream attempts", ["provider", "reason"])
TIME_TO_FIRST_TOKEN = Histogram(
    "gateway_time_to_first_token_seconds", "Streams: time to the first content chunk", ["provider"], buckets=LATENCY_BUCKETS
)
RETRIES = Counter("gateway_retries_total", "Upstream attempts after the first", ["provider"])
FALLBACKS = Counter("gateway_fallbacks_total", "Requests answered by a fallback model", ["from_model", "to_model"])
CIRCUIT_STATE = Gauge(
    "gateway_circuit_breaker_open", "1 while a provider's breaker is open or probing", ["provider"],
    multiprocess_mode="livemax",  # a dead worker's value is dropped (gateway_site/worker_metrics.py)
)
DEPLOYMENT_SKIPPED = Counter(
    "gateway_deployment_quota_skips_total", "Times a deployment was passed over at its own rpm/tpm quota", ["deployment"]
)
BREAKER_PANICS = Counter(
    "gateway_circuit_breaker_panic_total",
    "Attempts sent to a provider with an open breaker because every candidate's breaker was open", ["provider"],
)
USAGE_DROPPED = Counter("gateway_usage_records_dropped_total", "Usage records lost because the buffer overflowed")
DEPENDENCY_ERRORS = Counter(
    "gateway_dependency_errors_total", "Failed calls to a dependency the gateway then worked around", ["dependency"]
)
KEYS_SERVED_STALE = Counter(
    "gateway_keys_served_stale_total", "Requests authenticated from memory because the database was unreachable"
)
UNHANDLED_ERRORS = Counter(
    "gateway_unhandled_errors_total", "Exceptions no code expected, by type and where raised (500, or 503 for a dependency)",
    ["cause"],
)
USAGE_WRITE_FAILURES = Counter("gateway_usage_write_failures_total", "Failed batch writes of usage records (retried)")
RESPONSES_NOT_STORED = Counter(
    "gateway_responses_not_stored_total", "/v1/responses answers that could not be kept for previous_response_id", ["reason"]
)
RESPONSES_WRITE_FAILURES = Counter("gateway_responses_write_failures_total", "Failed batch writes of stored responses (retried)")


@functools.lru_cache(maxsize=4096)
def child(metric, *label_values: str):
    """metric.labels(*label_values), remembered: prometheus_client validates and locks on
    every labels() call, a few µs a time on the request path. Bounded: label values are
    routes, statuses, providers and models, never ids."""
    return metric.labels(*label_values)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(method: str, endpoint: str, status: int, started: float) -> None:
    """`endpoint` is the route pattern, never the raw path: ids in paths would explode the
    label space; `started` is a time.perf_counter() reading."""
    method = method if method in _METHODS else "OTHER"
    child(REQUESTS, method, endpoint, str(status)).inc()
    child(REQUEST_DURATION, endpoint).observe(time.perf_counter() - started)


def circuit_state_changed(provider: str, state: str) -> None:
    """The provider breakers' state-change listener (registered in apps/stats/apps.py)."""
    CIRCUIT_STATE.labels(provider).set(0 if state == "closed" else 1)


def initialise_labels() -> None:
    # Known label values are exported from the start (at 0), so a dashboard or an alert
    # sees "no hits yet" rather than "no data".
    for cache_type in ("exact", "semantic"):
        CACHE_HITS.labels(cache_type)
        CACHE_MISSES.labels(cache_type)
    for reason in ("saturated", "warming", "unavailable", "timeout"):
        SEMANTIC_SKIPPED.labels(reason)
    for limit in ("requests", "tokens"):
        RATE_LIMITED.labels(limit)
    for scope in ("key", "team"):
        BUDGET_REJECTIONS.labels(scope)
    for dependency in ("database", "redis"):
        DEPENDENCY_ERRORS.labels(dependency)


def initialise_providers(names: Iterable[str]) -> None:
    for name in names:
        CIRCUIT_STATE.labels(name)  # 0 (closed) until the breaker says otherwise


def render(registry: CollectorRegistry | None = None) -> tuple[bytes, str]:
    """The exposition text. With PROMETHEUS_MULTIPROC_DIR set, every worker's values are
    summed from that directory (it must be emptied before the workers start)."""
    if registry is None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry or REGISTRY), CONTENT_TYPE_LATEST


def unhandled_error(cause: str) -> None:
    """gateway_site.front_door's callback for an exception no code expected; `cause` is
    the exception type and the line that raised it, so the label space is bounded by code."""
    child(UNHANDLED_ERRORS, cause).inc()

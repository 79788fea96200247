"""Every Prometheus metric of the gateway, defined once.

With several worker processes set PROMETHEUS_MULTIPROC_DIR (docs/configuration.md):
prometheus_client then writes each process's values to files that /metrics aggregates.
Labels never carry an API key.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

REQUESTS = Counter("gateway_requests_total", "HTTP requests served", ["method", "endpoint", "status"])
REQUEST_DURATION = Histogram(
    "gateway_request_duration_seconds", "Time to the response headers", ["endpoint"], buckets=LATENCY_BUCKETS
)
CACHE_HITS = Counter("gateway_cache_hits_total", "Answers served from a cache", ["cache_type"])
CACHE_MISSES = Counter("gateway_cache_misses_total", "Cache lookups that found nothing", ["cache_type"])
TOKENS = Counter("gateway_tokens_used_total", "Tokens counted from upstream usage", ["provider", "model", "type"])
COST = Counter("gateway_cost_usd_total", "Estimated upstream cost in USD", ["provider", "model"])
RATE_LIMITED = Counter("gateway_rate_limit_rejections_total", "Requests refused by a rate limit", ["limit"])
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
    "gateway_circuit_breaker_open", "1 while a provider's breaker is open or probing", ["provider"], multiprocess_mode="max"
)
USAGE_DROPPED = Counter("gateway_usage_records_dropped_total", "Usage records lost because the buffer overflowed")
USAGE_WRITE_FAILURES = Counter("gateway_usage_write_failures_total", "Failed batch writes of usage records (retried)")

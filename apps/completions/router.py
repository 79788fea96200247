"""Trying a request on its model, with retries, then on its fallbacks.

The attempt function does one upstream call and either returns a result or raises
`AttemptFailure`, which says whether trying again could help. This module decides what
happens next: back off and retry on the same provider, move to the next fallback model,
or give up with the last error. Retries never happen after the first streamed byte has
reached the client: by then the attempt has returned.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from apps.completions.breaker import breaker_allows, breaker_record_failure, breaker_record_success
from apps.completions.providers.types import ModelRoute, UpstreamFailure
from apps.keys.registry import KeyInfo
from apps.stats import metrics
from gateway_site.errors import GatewayError, InvalidRequest, ProviderError
from gateway_site.gateway_config import GatewayConfig
from gateway_site.redaction import shorten

logger = logging.getLogger(__name__)

T = TypeVar("T")

CLIENT_FAULT_STATUSES = frozenset({400, 404, 413, 422})
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@dataclass
class AttemptFailure(Exception):
    error: GatewayError
    retryable: bool
    reason: str  # metrics label: timeout, connection, http_503, bad_response, ...
    retry_after: float | None = None


@dataclass
class RouteOutcome:
    route: ModelRoute
    attempts: int


def failure_from_status(route: ModelRoute, failure: UpstreamFailure, headers: dict[str, str]) -> AttemptFailure | GatewayError:
    """Maps an upstream HTTP error. A client's mistake comes back as a GatewayError to raise
    at once; anything else as an AttemptFailure."""
    provider = route.provider.name
    if failure.auth_failure:
        # Never a 401 to the client: its key is fine, ours was refused.
        error = ProviderError(f"The gateway's API key for {provider} was refused by the provider ({failure.status})")
        return AttemptFailure(error, retryable=False, reason="auth")
    said = shorten(failure.message)  # redacted when rendered (gateway_site/redaction.py)
    if failure.status in CLIENT_FAULT_STATUSES:
        return InvalidRequest(f"{provider} rejected the request for {route.name}: {said}")
    error = ProviderError(f"{provider} failed to answer for {route.name} (HTTP {failure.status}): {said}")
    retryable = failure.status in RETRYABLE_STATUSES
    return AttemptFailure(error, retryable=retryable, reason=f"http_{failure.status}", retry_after=retry_after_seconds(headers))


def retry_after_seconds(headers: dict[str, str]) -> float | None:
    lowered = {name.lower(): value for name, value in headers.items()}
    if "retry-after-ms" in lowered:
        try:
            return float(lowered["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def backoff_delay(route: ModelRoute, retries_so_far: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    provider = route.provider
    ceiling = min(provider.backoff_max, provider.backoff_base * 2**retries_so_far)
    return ceiling * (0.5 + random.random() / 2)  # jitter keeps clients from retrying in lockstep


def candidate_routes(route: ModelRoute, key: KeyInfo, config: GatewayConfig) -> list[ModelRoute]:
    fallbacks = [config.models[name] for name in route.fallbacks if name in config.models and key.may_use_model(name)]
    return [route, *fallbacks]


async def arun_with_fallbacks(
    routes: list[ModelRoute], attempt: Callable[[ModelRoute], Awaitable[T]]
) -> tuple[T, RouteOutcome]:
    last_error: GatewayError | None = None
    attempts = 0
    for position, route in enumerate(routes):
        provider = route.provider
        if not breaker_allows(provider):
            last_error = ProviderError(f"{provider.name} is temporarily unavailable (circuit breaker open)")
            continue
        for retry in range(provider.max_attempts):
            attempts += 1
            if retry:
                metrics.RETRIES.labels(provider.name).inc()
            try:
                result = await attempt(route)
            except AttemptFailure as failure:
                metrics.UPSTREAM_ERRORS.labels(provider.name, failure.reason).inc()
                breaker_record_failure(provider)
                last_error = failure.error
                if not _should_retry(failure, route, retry):
                    break
                await asyncio.sleep(backoff_delay(route, retry, failure.retry_after))
                continue
            except InvalidRequest as error:
                if position == 0:
                    raise
                last_error = error  # this fallback cannot take the request; try the next one
                break
            breaker_record_success(provider)
            if position:
                metrics.FALLBACKS.labels(routes[0].name, route.name).inc()
            return result, RouteOutcome(route=route, attempts=attempts)
    raise last_error or ProviderError()


def _should_retry(failure: AttemptFailure, route: ModelRoute, retry: int) -> bool:
    provider = route.provider
    if not failure.retryable or retry + 1 >= provider.max_attempts:
        return False
    if failure.retry_after is not None and failure.retry_after > provider.max_retry_after:
        return False  # waiting that long would hold the client; a fallback may answer now
    return breaker_allows(provider)

"""Trying a request on its model, with retries, then on its fallbacks.

The attempt function does one upstream call and either returns a result or raises
`AttemptFailure`, which says whether trying again could help. This module decides what
happens next: back off and retry on the same provider, move to the next fallback model,
or give up with the last error. Retries never happen after the first streamed byte has
reached the client: by then the attempt has returned.

Every attempt's outcome reaches its provider's breaker exactly once, whatever it is
(`_attempt_once`). A route whose breaker is open is skipped, but a request never loses
all its routes to open breakers: then the one that failed least recently is tried anyway
(Envoy's "panic" routing), so a recovered provider is found by the next request.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from apps.completions.providers.types import ModelRoute, ProviderSettings, UpstreamFailure
from apps.keys.registry import KeyInfo
from apps.stats import metrics
from gateway_site import tracing
from gateway_site.breaker import Breaker, BreakerSettings, provider_breakers
from gateway_site.errors import GatewayError, InvalidRequest, ProviderError, ProviderTimeout
from gateway_site.gateway_config import GatewayConfig
from gateway_site.redaction import shorten

logger = logging.getLogger(__name__)

T = TypeVar("T")

CLIENT_FAULT_STATUSES = frozenset({400, 404, 413, 422})
RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
PANIC_LOG_EVERY = 60.0  # seconds between two "every breaker open" log lines


@dataclass
class AttemptFailure(Exception):
    error: GatewayError
    retryable: bool
    reason: str  # metrics label: timeout, connection, http_503, bad_response, ...
    retry_after: float | None = None


class UpstreamRefused(InvalidRequest):
    """The provider answered and refused the request as malformed: the client's mistake,
    and proof the provider is up (its breaker closes)."""


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
        return UpstreamRefused(f"{provider} rejected the request for {route.name}: {said}")
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


def provider_breaker(provider: ProviderSettings) -> Breaker:
    # A probe still waiting past every timeout that could apply to it will never report.
    probe_timeout = provider.connect_timeout + provider.read_timeout + provider.stream_idle_timeout
    settings = _breaker_settings(provider.breaker_threshold, provider.breaker_cooldown, probe_timeout)
    return provider_breakers().get(provider.name, settings)


@functools.lru_cache(maxsize=256)
def _breaker_settings(threshold: int, cooldown: float, probe_timeout: float) -> BreakerSettings:
    # Remembered: the same few settings on every request, and one object per value lets
    # Breakers.get tell them unchanged by identity.
    return BreakerSettings(threshold=threshold, cooldown=cooldown, probe_timeout=probe_timeout)


async def arun_with_fallbacks(
    routes: list[ModelRoute], attempt: Callable[[ModelRoute], Awaitable[T]], *, deadline: float | None = None
) -> tuple[T, RouteOutcome]:
    """`deadline` (the event loop's clock) bounds every attempt, backoff and fallback
    together: past it the request ends with a 504, whatever is left to try."""
    run = _Run(routes, attempt, deadline)
    for position, route in enumerate(routes):
        breaker = provider_breaker(route.provider)
        if breaker.allow():
            answer = await run.aroute(position, route, breaker)
            if answer is not None:
                return answer
    if not run.attempts:  # every candidate's breaker is open: never eject them all
        position = _least_recently_failed(routes)
        route = routes[position]
        _count_panic(route)
        answer = await run.aroute(position, route, provider_breaker(route.provider))
        if answer is not None:
            return answer
    raise run.last_error or ProviderError()


class _Run(Generic[T]):
    """One request's walk through its routes: the attempts so far and the last error."""

    def __init__(self, routes: list[ModelRoute], attempt: Callable[[ModelRoute], Awaitable[T]], deadline: float | None) -> None:
        self.routes, self.attempt = routes, attempt
        self.deadline = deadline if deadline is not None else math.inf
        self.attempts = 0
        self.last_error: GatewayError | None = None

    async def aroute(self, position: int, route: ModelRoute, breaker: Breaker) -> tuple[T, RouteOutcome] | None:
        """The answer from this route, with its retries; None to go on with the next one."""
        provider = route.provider
        for retry in range(provider.max_attempts):
            self.attempts += 1
            if retry:
                metrics.RETRIES.labels(provider.name).inc()
            try:
                if tracing.tracer is None:
                    result = await _attempt_once(self.attempt, route, breaker, self.deadline)
                else:
                    result = await _attempt_traced(self.attempt, route, breaker, self.deadline, number=self.attempts)
            except AttemptFailure as failure:
                metrics.UPSTREAM_ERRORS.labels(provider.name, failure.reason).inc()
                self.last_error = failure.error
                if self._sibling_follows(position) or not _should_retry(failure, route, retry, breaker):
                    return None  # another deployment of this model takes it at once, without backoff
                delay = backoff_delay(route, retry, failure.retry_after)
                if asyncio.get_running_loop().time() + delay >= self.deadline:
                    raise _deadline_passed(route) from None  # waiting would outlast the request
                await asyncio.sleep(delay)
                continue
            except InvalidRequest as error:
                if position == 0:
                    raise
                self.last_error = error  # this fallback cannot take the request; try the next one
                return None
            if route.name != self.routes[0].name:
                metrics.FALLBACKS.labels(self.routes[0].name, route.name).inc()
            return result, RouteOutcome(route=route, attempts=self.attempts)
        return None

    def _sibling_follows(self, position: int) -> bool:
        following = self.routes[position + 1] if position + 1 < len(self.routes) else None
        return following is not None and bool(following.deployment) and following.name == self.routes[position].name


async def _attempt_once(
    attempt: Callable[[ModelRoute], Awaitable[T]], route: ModelRoute, breaker: Breaker, deadline: float
) -> T:
    """One attempt, whose outcome reaches the breaker exactly once, however it ends: a
    half-open breaker's probe that reported nothing would keep the provider out."""
    try:
        async with asyncio.timeout_at(deadline if deadline != math.inf else None) as budget:
            result = await attempt(route)
    except TimeoutError:
        if not budget.expired():
            raise
        breaker.released()  # the request ran out of time; the provider may be fine
        raise _deadline_passed(route) from None
    except AttemptFailure:
        breaker.failed()
        raise
    except UpstreamRefused:
        breaker.refused()
        raise
    except BaseException:
        # Cancelled (the client left), or a fault of ours: nothing learnt about the provider.
        breaker.released()
        raise
    breaker.succeeded()
    return result


async def _attempt_traced(
    attempt: Callable[[ModelRoute], Awaitable[T]], route: ModelRoute, breaker: Breaker, deadline: float, *, number: int
) -> T:
    """_attempt_once in a span of its own (GenAI conventions: "chat <model>", a client
    span): retries and fallbacks show as siblings, numbered, each with its outcome."""
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": tracing.gen_ai_system(route.provider.protocol),
        "gen_ai.request.model": route.upstream_model,
        "gateway.model": route.name,
        "gateway.provider": route.provider.name,
        "gateway.attempt": number,
    }
    with tracing.span(f"chat {route.upstream_model}", kind=tracing.SpanKind.CLIENT, attributes=attributes) as span:
        try:
            result = await _attempt_once(attempt, route, breaker, deadline)
        except AttemptFailure as failure:
            span.set_attribute("gateway.attempt.outcome", failure.reason)
            tracing.failed(span, failure.reason)
            raise
        except GatewayError as error:  # refused as malformed, or out of time
            span.set_attribute("gateway.attempt.outcome", error.code)
            tracing.failed(span, error.code)
            raise
        except BaseException as exc:
            span.set_attribute("gateway.attempt.outcome", "abandoned")
            tracing.failed(span, type(exc).__name__)
            raise
        span.set_attribute("gateway.attempt.outcome", "success")
        return result


def _deadline_passed(route: ModelRoute) -> ProviderTimeout:
    metrics.UPSTREAM_ERRORS.labels(route.provider.name, "deadline").inc()
    return ProviderTimeout(f"No answer for {route.name} within the request's time limit")


def _should_retry(failure: AttemptFailure, route: ModelRoute, retry: int, breaker: Breaker) -> bool:
    provider = route.provider
    if not failure.retryable or retry + 1 >= provider.max_attempts:
        return False
    if failure.retry_after is not None and failure.retry_after > provider.max_retry_after:
        return False  # waiting that long would hold the client; a fallback may answer now
    return breaker.allow()


def _least_recently_failed(routes: list[ModelRoute]) -> int:
    return min(range(len(routes)), key=lambda position: provider_breaker(routes[position].provider).last_failure_at)


class _PanicLog:
    logged_at = -math.inf


def _count_panic(route: ModelRoute) -> None:
    metrics.child(metrics.BREAKER_PANICS, route.provider.name).inc()
    now = time.monotonic()
    if now - _PanicLog.logged_at >= PANIC_LOG_EVERY:
        _PanicLog.logged_at = now
        logger.warning("every candidate's circuit breaker is open; trying %s anyway (logged once a minute)",
                       route.provider.name)

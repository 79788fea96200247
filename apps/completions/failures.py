"""What an exception met while talking to an upstream means for the request: one mapping
for non-streamed calls, stream starts and failures in the middle of a stream."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from apps.completions.providers import base
from apps.completions.providers.types import ModelRoute, StreamEventError, UpstreamFailure, UpstreamRequest
from apps.completions.router import AttemptFailure, failure_from_status
from apps.stats import metrics
from gateway_site.errors import ProviderError, ProviderTimeout

Parsed = TypeVar("Parsed")

# What an adapter raises on an upstream answer it cannot read.
_UNREADABLE = (ValueError, KeyError, TypeError, IndexError, AttributeError)


def upstream_failure(route: ModelRoute, exc: BaseException) -> AttemptFailure | None:
    """What an exception met while talking to an upstream means for the request, or None
    when it is not the upstream's doing (a cancellation, a bug: those propagate)."""
    if isinstance(exc, base.UpstreamTimeout):
        return AttemptFailure(ProviderTimeout(str(exc)), retryable=True, reason="timeout")
    if isinstance(exc, base.UpstreamConnectionError):
        return AttemptFailure(ProviderError(str(exc)), retryable=True, reason="connection")
    if isinstance(exc, StreamEventError):
        return AttemptFailure(ProviderError(f"{route.provider.name}: {exc.message}"), retryable=True, reason="stream_error")
    if isinstance(exc, _UNREADABLE):
        error = ProviderError(f"{route.provider.name} sent a response the gateway could not read")
        return AttemptFailure(error, retryable=False, reason="bad_response")
    return None


async def aupstream_call(route: ModelRoute, request: UpstreamRequest, parse_error: Callable[[int, bytes], UpstreamFailure],
                         parse: Callable[[bytes], Parsed]) -> Parsed:
    """One non-streamed call to the route's upstream (chat, a Messages passthrough, an
    embeddings batch): its latency observed, a non-200 answer raised as the route's failure
    (`parse_error` reads the provider's error body), a 200 answer's body given to `parse`,
    and whatever goes wrong on the way mapped by upstream_failure."""
    started = time.perf_counter()
    try:
        response = await base.send(request, route.provider)
        metrics.child(metrics.UPSTREAM_LATENCY, route.provider.name).observe(time.perf_counter() - started)
        if response.status != 200:
            raise failure_from_status(route, parse_error(response.status, response.body), response.headers)
        return parse(response.body)
    except Exception as exc:
        raise upstream_failure(route, exc) or exc from None

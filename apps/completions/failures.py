"""What an exception met while talking to an upstream means for the request: one mapping
for non-streamed calls, stream starts and failures in the middle of a stream."""

from __future__ import annotations

from apps.completions.providers import base
from apps.completions.providers.types import ModelRoute, StreamEventError
from apps.completions.router import AttemptFailure
from gateway_site.errors import ProviderError, ProviderTimeout

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

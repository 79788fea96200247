"""Types shared by the provider adapters and the code that calls them.

An adapter is pure: it builds an upstream request from an OpenAI-shaped payload and turns
upstream responses, stream events and errors back into OpenAI shapes. Network I/O,
retries and fallbacks live in `base.py` and `apps/completions/services.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# Configuration, defined (with every default) in the config module; re-exported for the adapters.
from gateway_site.gateway_config import ModelRoute, ProviderSettings  # noqa: F401


@dataclass
class UpstreamRequest:
    url: str
    headers: dict[str, str]
    json: dict[str, Any]


@dataclass
class SseEvent:
    data: str
    event: str | None = None


@dataclass
class UpstreamFailure:
    """What an adapter reads out of an upstream error body."""

    status: int
    message: str
    upstream_type: str | None = None  # e.g. "overloaded_error", "RESOURCE_EXHAUSTED"
    auth_failure: bool = False  # the provider refused the gateway's own key


@dataclass
class StreamState:
    """Per-stream memory of an adapter; adapters may subclass it."""

    completion_id: str
    created: int
    model: str
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class StreamEventError(Exception):
    """An error event inside an upstream stream that already answered 200."""

    def __init__(self, message: str, upstream_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.upstream_type = upstream_type


class ProviderAdapter(Protocol):
    protocol: str

    def build_request(self, payload: dict[str, Any], *, route: ModelRoute, stream: bool) -> UpstreamRequest: ...

    # `payload` (the client's request) for checks of the answer against what was asked.
    def parse_response(self, data: dict[str, Any], *, route: ModelRoute,
                       payload: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def start_stream(self, *, route: ModelRoute, completion_id: str, created: int,
                     payload: dict[str, Any] | None = None) -> StreamState: ...

    def parse_stream_event(self, state: StreamState, event: SseEvent) -> list[dict[str, Any]]: ...

    def finish_stream(self, state: StreamState) -> list[dict[str, Any]]: ...

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure: ...

"""Types shared by the provider adapters and the code that calls them.

An adapter is pure: it builds an upstream request from an OpenAI-shaped payload and turns
upstream responses, stream events and errors back into OpenAI shapes. Network I/O,
retries and fallbacks live in `base.py` and `apps/completions/services.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ProviderSettings:
    name: str  # "openai", "anthropic", "google", or a name added in gateway.yaml
    protocol: str  # "openai", "anthropic" or "gemini": which adapter speaks to it
    base_url: str  # OpenAI: includes /v1; Anthropic and Gemini: host only (see DESIGN.md)
    api_key: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    stream_idle_timeout: float = 30.0
    max_attempts: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 20.0  # a longer upstream Retry-After is not waited for
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    default_max_tokens: int = 4096  # Anthropic requires max_tokens


@dataclass(frozen=True)
class ModelRoute:
    name: str  # the model name clients send
    provider: ProviderSettings
    upstream_model: str
    fallbacks: tuple[str, ...] = ()
    input_price: float = 0.0  # USD per million prompt tokens
    output_price: float = 0.0  # USD per million completion tokens
    max_tokens_default: int | None = None
    created: int = 1700000000
    # Anthropic: the model has structured outputs (output_config.format, strict tools).
    # Older Claude models get a forced tool instead (see providers/anthropic.py).
    structured_outputs: bool = True


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

    # `payload` is the client's request: some answers depend on it (a schema to check,
    # parallel_tool_calls). Without it, the upstream answer is translated as it is.
    def parse_response(self, data: dict[str, Any], *, route: ModelRoute,
                       payload: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def start_stream(self, *, route: ModelRoute, completion_id: str, created: int,
                     payload: dict[str, Any] | None = None) -> StreamState: ...

    def parse_stream_event(self, state: StreamState, event: SseEvent) -> list[dict[str, Any]]: ...

    def finish_stream(self, state: StreamState) -> list[dict[str, Any]]: ...

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure: ...

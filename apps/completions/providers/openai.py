"""OpenAI Chat Completions upstream.

The client-facing API is OpenAI's, so this adapter is nearly a pass-through (it is the
hot path: no needless copying or re-shaping). The OpenAI-shape helpers the translating
adapters share live in openai_shapes.py.
Reference: OpenAI's Chat Completions API (https://platform.openai.com/docs/api-reference/chat).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from .openai_shapes import error_text, json_or_none, malformed_as_value_error
from .types import (
    ModelRoute,
    SseEvent,
    StreamEventError,
    StreamState,
    UpstreamFailure,
    UpstreamRequest,
)


@dataclass
class OpenAIStreamState(StreamState):
    named: bool = False  # the stream's id is taken from its first upstream chunk


class OpenAIAdapter:
    protocol = "openai"

    def build_request(self, payload: dict[str, Any], *, route: ModelRoute, stream: bool) -> UpstreamRequest:
        body = dict(payload)  # unknown fields pass through unchanged
        body["model"] = route.upstream_model
        if body.get("max_completion_tokens") is not None and "max_tokens" in body:
            del body["max_tokens"]  # [decision] max_completion_tokens wins; o-series reject max_tokens
        if stream:
            body["stream"] = True
            options = payload.get("stream_options")
            # The gateway always needs usage; the caller strips it if the client did not ask.
            body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)  # only allowed with stream: true
        return UpstreamRequest(
            url=f"{route.provider.base_url.rstrip('/')}/chat/completions",
            headers={"Authorization": f"Bearer {route.provider.api_key}"},
            json=body,
        )

    def parse_response(self, data: dict[str, Any], *, route: ModelRoute,
                       payload: dict[str, Any] | None = None) -> dict[str, Any]:
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            raise ValueError("OpenAI response without a choices list")
        return data

    def start_stream(self, *, route: ModelRoute, completion_id: str, created: int,
                     payload: dict[str, Any] | None = None) -> StreamState:
        return OpenAIStreamState(completion_id=completion_id, created=created, model=route.name)

    @malformed_as_value_error
    def parse_stream_event(self, state: OpenAIStreamState, event: SseEvent) -> list[dict[str, Any]]:
        if event.data.startswith("[DONE]"):
            return []
        chunk = orjson.loads(event.data)
        if "error" in chunk:
            message, upstream_type = _error_fields(chunk["error"])
            raise StreamEventError(message or "Upstream stream error", upstream_type)
        if not state.named:
            # Chunks pass through with the upstream's id, so the chunks the gateway writes
            # itself (the usage chunk) must carry it too: one stream, one id.
            state.completion_id = chunk.get("id") or state.completion_id
            state.named = True
        if chunk.get("usage"):
            state.usage = chunk["usage"]
        choices = chunk["choices"]
        if not choices:
            return []  # the include_usage chunk: the caller sends its own
        finish_reason = choices[0].get("finish_reason")
        if finish_reason:
            state.finish_reason = finish_reason
        return [chunk]

    def finish_stream(self, state: StreamState) -> list[dict[str, Any]]:
        return []  # OpenAI streams always carry their own finish chunk

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        data = json_or_none(body)
        error = data.get("error") if isinstance(data, dict) else None
        message, upstream_type = _error_fields(error)
        return UpstreamFailure(
            status=status,
            message=message or error_text(status, body),
            upstream_type=upstream_type,
            auth_failure=status in (401, 403) or upstream_type == "invalid_api_key",
        )


def _error_fields(error: Any) -> tuple[str, str | None]:
    if isinstance(error, str):  # some OpenAI-compatible servers send {"error": "text"}
        return error, None
    if not isinstance(error, dict):
        return "", None
    upstream_type = error.get("code") or error.get("type")
    return str(error.get("message") or ""), str(upstream_type) if upstream_type else None

"""OpenAI `POST /v1/embeddings` (https://platform.openai.com/docs/api-reference/embeddings).

The client speaks OpenAI already, so the request passes through (unknown fields
included); the gateway always asks for base64, a quarter of the bytes of JSON floats and
nothing to parse, and renders the format the client asked for itself.
"""

from __future__ import annotations

import base64
from typing import Any

from apps.completions.providers.openai import OpenAIAdapter
from apps.completions.providers.types import UpstreamFailure, UpstreamRequest
from apps.embeddings import vectors
from apps.embeddings.providers.types import EmbeddingBatch
from gateway_site.gateway_config import EmbeddingRoute

_CHAT = OpenAIAdapter()  # its error parsing: the provider's errors look the same on every endpoint

class OpenAIEmbeddingAdapter:
    protocol = "openai"

    def build_requests(self, inputs: list, *, route: EmbeddingRoute, dimensions: int | None,
                       payload: dict[str, Any]) -> list[UpstreamRequest]:
        body = {**payload, "model": route.upstream_model, "input": inputs, "encoding_format": "base64"}
        return [UpstreamRequest(url=f"{route.provider.base_url}/embeddings",
                                headers={"Authorization": f"Bearer {route.provider.api_key}"}, json=body)]

    def parse_response(self, data: Any, *, route: EmbeddingRoute, dimensions: int | None) -> EmbeddingBatch:
        items = sorted(data["data"], key=lambda item: item["index"])
        usage = data.get("usage") or {}
        return EmbeddingBatch([_vector(item["embedding"]) for item in items], usage.get("prompt_tokens"))

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return _CHAT.parse_error(status, body)  # the same error body as chat completions


def _vector(embedding: str | list[float]) -> bytes:
    # An OpenAI-compatible server (older vLLM, Ollama) may ignore encoding_format and send floats.
    return base64.b64decode(embedding, validate=True) if isinstance(embedding, str) else vectors.pack(embedding)

"""Google Gemini `embedContent` / `batchEmbedContents` (https://ai.google.dev/api/embeddings).

One text goes to `models/{model}:embedContent`; more go to `:batchEmbedContents`, which
takes at most 100 requests per call, so a larger input is split into calls of 100 that the
service sends concurrently and joins back in order. `dimensions` becomes
`outputDimensionality`; Google does not rescale a shortened vector, the gateway does, so
every vector a client gets has length 1 as OpenAI's have. Google reports no token count
for embeddings: the service estimates it.
"""

from __future__ import annotations

from typing import Any

from apps.completions.providers.gemini import GeminiAdapter
from apps.completions.providers.types import UpstreamFailure, UpstreamRequest
from apps.embeddings import vectors
from apps.embeddings.providers.types import EmbeddingBatch
from gateway_site.gateway_config import EmbeddingRoute

MAX_BATCH = 100  # texts per batchEmbedContents call, Google's limit

_CHAT = GeminiAdapter()  # its error parsing: the provider's errors look the same on every endpoint

class GeminiEmbeddingAdapter:
    protocol = "gemini"

    def build_requests(self, inputs: list, *, route: EmbeddingRoute, dimensions: int | None,
                       payload: dict[str, Any]) -> list[UpstreamRequest]:
        if len(inputs) == 1:
            return [self._call(route, "embedContent", _content_request(inputs[0], dimensions))]
        model = f"models/{route.upstream_model}"
        batches = (inputs[start:start + MAX_BATCH] for start in range(0, len(inputs), MAX_BATCH))
        return [
            self._call(route, "batchEmbedContents",
                       {"requests": [{"model": model, **_content_request(text, dimensions)} for text in batch]})
            for batch in batches
        ]

    def parse_response(self, data: Any, *, route: EmbeddingRoute, dimensions: int | None) -> EmbeddingBatch:
        found = [data["embedding"]] if "embedding" in data else data["embeddings"]
        packed = [vectors.pack(embedding["values"]) for embedding in found]
        if dimensions is not None and dimensions < route.dimensions:
            packed = [vectors.unit_length(vector) for vector in packed]
        tokens = (data.get("usageMetadata") or {}).get("promptTokenCount")
        return EmbeddingBatch(packed, tokens)

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        return _CHAT.parse_error(status, body)  # the same error body as generateContent

    def _call(self, route: EmbeddingRoute, method: str, body: dict[str, Any]) -> UpstreamRequest:
        return UpstreamRequest(url=f"{route.provider.base_url}/v1beta/models/{route.upstream_model}:{method}",
                               headers={"x-goog-api-key": route.provider.api_key}, json=body)


def _content_request(text: str, dimensions: int | None) -> dict[str, Any]:
    request: dict[str, Any] = {"content": {"parts": [{"text": text}]}}
    if dimensions is not None:
        request["outputDimensionality"] = dimensions
    return request

"""The few pure methods every embeddings upstream has (like the chat adapters of
apps/completions/providers/); network I/O stays in apps/completions/providers/base.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from apps.completions.providers.types import UpstreamFailure, UpstreamRequest
from gateway_site.gateway_config import EmbeddingRoute


@dataclass
class EmbeddingBatch:
    """One upstream call's answer."""

    vectors: list[bytes]  # float32 little-endian (apps/embeddings/vectors.py), in input order
    prompt_tokens: int | None  # None: the provider did not say


class EmbeddingAdapter(Protocol):
    protocol: str

    def build_requests(self, inputs: list, *, route: EmbeddingRoute, dimensions: int | None,
                       payload: dict[str, Any]) -> list[UpstreamRequest]:
        """The upstream calls for these inputs, in order (more than one when the
        provider takes fewer inputs per call than a client may send)."""
        ...

    def parse_response(self, data: Any, *, route: EmbeddingRoute, dimensions: int | None) -> EmbeddingBatch: ...

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure: ...

"""The one table of embeddings upstreams, keyed by the protocol a provider speaks. The
`local` protocol has no upstream: apps/embeddings/local.py serves it in process."""

from __future__ import annotations

from .gemini import GeminiEmbeddingAdapter
from .openai import OpenAIEmbeddingAdapter
from .types import EmbeddingAdapter

ADAPTERS: dict[str, EmbeddingAdapter] = {
    "openai": OpenAIEmbeddingAdapter(),
    "gemini": GeminiEmbeddingAdapter(),
}


def embedding_adapter_for(protocol: str) -> EmbeddingAdapter:
    try:
        return ADAPTERS[protocol]
    except KeyError:
        raise ValueError(f"No embeddings adapter for protocol {protocol!r}") from None

"""The one table of provider adapters, keyed by the protocol a provider speaks."""

from __future__ import annotations

from .anthropic import AnthropicAdapter
from .gemini import GeminiAdapter
from .openai import OpenAIAdapter
from .types import ProviderAdapter

ADAPTERS: dict[str, ProviderAdapter] = {
    "openai": OpenAIAdapter(),
    "anthropic": AnthropicAdapter(),
    "gemini": GeminiAdapter(),
}


def adapter_for(protocol: str) -> ProviderAdapter:
    try:
        return ADAPTERS[protocol]
    except KeyError:
        raise ValueError(f"No provider adapter for protocol {protocol!r}") from None

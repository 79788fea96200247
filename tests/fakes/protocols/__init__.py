"""One module per fake provider protocol, registered in one explicit table."""

from __future__ import annotations

from .anthropic import AnthropicProtocol
from .base import ProviderProtocol
from .gemini import GeminiProtocol
from .openai import OpenAIProtocol

PROTOCOLS: dict[str, ProviderProtocol] = {
    "openai": OpenAIProtocol(),
    "anthropic": AnthropicProtocol(),
    "gemini": GeminiProtocol(),
}

"""The registry maps each provider protocol to its adapter."""

from __future__ import annotations

import pytest

from apps.completions.providers.anthropic import AnthropicAdapter
from apps.completions.providers.gemini import GeminiAdapter
from apps.completions.providers.openai import OpenAIAdapter
from apps.completions.providers.registry import ADAPTERS, adapter_for


def test_it_has_one_adapter_per_protocol():
    assert set(ADAPTERS) == {"openai", "anthropic", "gemini"}
    assert all(adapter.protocol == protocol for protocol, adapter in ADAPTERS.items())


def test_it_returns_the_adapter_for_a_protocol():
    assert isinstance(adapter_for("openai"), OpenAIAdapter)
    assert isinstance(adapter_for("anthropic"), AnthropicAdapter)
    assert isinstance(adapter_for("gemini"), GeminiAdapter)


def test_it_refuses_an_unknown_protocol():
    with pytest.raises(ValueError, match="cohere"):
        adapter_for("cohere")

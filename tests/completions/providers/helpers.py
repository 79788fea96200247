"""Builders and readers shared by the provider adapter tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from apps.completions.providers.types import ModelRoute, ProviderSettings

PROJECT_ROOT = Path(__file__).resolve().parents[3]
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "providers"
# OpenAI's published schemas (source and MIT licence: tests/fixtures/openai/README.md).
SCHEMAS = PROJECT_ROOT / "tests" / "fixtures" / "openai" / "openai-chat-schemas.json"

COMPLETION_ID = "chatcmpl-test123"
CREATED = 1700000123


def make_route(protocol: str, **overrides: Any) -> ModelRoute:
    provider = ProviderSettings(
        name={"gemini": "google"}.get(protocol, protocol),
        protocol=protocol,
        base_url={"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com",
                  "gemini": "https://generativelanguage.googleapis.com"}[protocol],
        api_key=f"{protocol}-secret",
        default_max_tokens=overrides.pop("default_max_tokens", 4096),
    )
    defaults = {
        "openai": ("gpt-4o", "gpt-4o-2024-08-06"),
        "anthropic": ("claude-sonnet-4-20250514", "claude-sonnet-4-20250514"),
        "gemini": ("gemini-2.5-flash", "gemini-2.5-flash-001"),
    }[protocol]
    fields = {"name": defaults[0], "upstream_model": defaults[1], "provider": provider, **overrides}
    return ModelRoute(**fields)


def fixture_bytes(provider: str, name: str) -> bytes:
    return (FIXTURES / provider / name).read_bytes()


def fixture_json(provider: str, name: str) -> Any:
    return orjson.loads(fixture_bytes(provider, name))


def split_bytes(raw: bytes, size: int | None) -> list[bytes]:
    if not size:
        return [raw]
    return [raw[i:i + size] for i in range(0, len(raw), size)]


def assemble(chunks: list[dict[str, Any]], index: int = 0) -> dict[str, Any]:
    """What an OpenAI SDK client rebuilds from a stream for one choice."""
    answer: dict[str, Any] = {"role": None, "content": "", "tool_calls": {}, "finish_reason": None}
    for chunk in chunks:
        for choice in chunk["choices"]:
            if choice["index"] != index:
                continue
            delta = choice["delta"]
            answer["role"] = answer["role"] or delta.get("role")
            answer["content"] += delta.get("content") or ""
            for call in delta.get("tool_calls") or []:
                slot = answer["tool_calls"].setdefault(call["index"], {"id": None, "name": None, "arguments": ""})
                slot["id"] = call.get("id") or slot["id"]
                slot["name"] = (call.get("function") or {}).get("name") or slot["name"]
                slot["arguments"] += (call.get("function") or {}).get("arguments") or ""
            answer["finish_reason"] = choice["finish_reason"] or answer["finish_reason"]
    return answer


def chat(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """An OpenAI chat request as the gateway's view hands it to an adapter."""
    return {"model": "client-model", "messages": list(messages), **fields}


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: Any = None, **fields: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": content, **fields}


def tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool_result(call_id: str, content: Any) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": content}

"""Shared fixtures for the provider adapter tests: routes, recorded upstream payloads and
checks against OpenAI's published schemas. Pure unit tests: no database, no network."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from apps.completions.providers.anthropic import AnthropicAdapter
from apps.completions.providers.gemini import GeminiAdapter
from apps.completions.providers.openai import OpenAIAdapter
from apps.completions.providers.sse import SseParser
from apps.completions.providers.types import ModelRoute, StreamState

from .helpers import COMPLETION_ID, CREATED, SCHEMAS, make_route, split_bytes


@pytest.fixture
def openai_route() -> ModelRoute:
    return make_route("openai")


@pytest.fixture
def anthropic_route() -> ModelRoute:
    return make_route("anthropic")


@pytest.fixture
def gemini_route() -> ModelRoute:
    return make_route("gemini")


@pytest.fixture
def openai() -> OpenAIAdapter:
    return OpenAIAdapter()


@pytest.fixture
def anthropic() -> AnthropicAdapter:
    return AnthropicAdapter()


@pytest.fixture
def gemini() -> GeminiAdapter:
    return GeminiAdapter()


@pytest.fixture(scope="session")
def openai_schemas() -> dict[str, Any]:
    if not SCHEMAS.exists():
        pytest.fail(f"OpenAI schemas not found at {SCHEMAS}")
    return json.loads(SCHEMAS.read_text())


def _validator(schemas: dict[str, Any], name: str) -> Callable[[dict[str, Any]], None]:
    validator = Draft202012Validator(schemas[name])

    def check(document: dict[str, Any]) -> None:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        assert not errors, f"{name} violations: {errors}"

    return check


@pytest.fixture(scope="session")
def assert_valid_completion(openai_schemas: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return _validator(openai_schemas, "CreateChatCompletionResponse")


@pytest.fixture(scope="session")
def assert_valid_chunk(openai_schemas: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return _validator(openai_schemas, "CreateChatCompletionStreamResponse")


@pytest.fixture
def run_stream(assert_valid_chunk: Callable[[dict[str, Any]], None]):
    """Feeds raw upstream SSE bytes (optionally in small pieces) through the parser and an
    adapter; returns every chunk produced, each checked against OpenAI's chunk schema."""

    def run(adapter: Any, route: ModelRoute, raw: bytes, piece: int | None = None
            ) -> tuple[list[dict[str, Any]], StreamState]:
        parser = SseParser()
        state = adapter.start_stream(route=route, completion_id=COMPLETION_ID, created=CREATED)
        chunks: list[dict[str, Any]] = []
        for data in split_bytes(raw, piece):
            for event in parser.feed(data):
                chunks += adapter.parse_stream_event(state, event)
        for event in parser.flush():
            chunks += adapter.parse_stream_event(state, event)
        chunks += adapter.finish_stream(state)
        for chunk in chunks:
            assert_valid_chunk(chunk)
        return chunks, state

    return run

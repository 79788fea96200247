"""What the three fake providers share: the deterministic answer and the protocol interface.

Token counts are a fixed, documented rule (README.md) so tests can assert tokens and cost:
prompt tokens = whitespace-separated words across every text the model would read,
completion tokens = words in the answer (a tool call counts TOOL_CALL_TOKENS).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import cycle, islice
from typing import Any

import orjson
from aiohttp import web

from ..directives import Directives

TOOL_ARGS = '{"city": "Oslo"}'
# Several fragments so clients must concatenate partial JSON before parsing it.
TOOL_ARG_FRAGMENTS = ('{"city"', ': "Os', 'lo"}')
TOOL_CALL_TOKENS = 5
TOOL_PREAMBLE = "Let me check."
_WORD_WITH_SPACE = re.compile(r"\S+\s*")

JSON_HEADERS = {"Content-Type": "application/json"}
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


@dataclass(slots=True)
class Conversation:
    """The parts of a provider request the fake answer depends on."""

    model: str
    last_user_text: str
    prompt_tokens: int
    tool_name: str | None = None  # the first declared tool, if any
    ends_with_tool_result: bool = False
    include_usage: bool = False  # OpenAI stream_options.include_usage
    forced_tool: str | None = None  # Anthropic tool_choice {"type": "tool"}: always called
    forced_input: Any = None  # that call's input, built from the tool's schema
    json_answer: Any = None  # Anthropic output_config.format: the answer, built from the schema
    embedding: Any = None  # an embeddings request: what the answer's vectors are made from (embeddings.py)


@dataclass(slots=True)
class Answer:
    text: str
    completion_tokens: int
    tool_name: str | None = None
    request_number: int = 0  # makes ids unique per fake process
    tool_input: Any = None  # instead of {"city": "Oslo"}
    tool_calls: int = 1  # fake:tool=twice: Gemini calls the tool twice in one answer

    def pieces(self) -> list[str]:
        """One piece per word, trailing spaces kept, so "".join(pieces) == text."""
        return _WORD_WITH_SPACE.findall(self.text)


def count_words(texts: list[str]) -> int:
    return sum(len(text.split()) for text in texts)


def build_answer(provider: str, conv: Conversation, found: Directives, number: int) -> Answer:
    if conv.forced_tool and not conv.ends_with_tool_result:
        return Answer("", TOOL_CALL_TOKENS, conv.forced_tool, number, tool_input=conv.forced_input)
    if conv.json_answer is not None:
        text = json.dumps(conv.json_answer)  # ", " and ": " separators: one word per piece
        return Answer(text, len(text.split()), None, number)
    wants_tool = found.tool is not None and conv.tool_name and not conv.ends_with_tool_result
    if wants_tool:
        # Only when the turn is a fresh user message: after a tool result the fake answers
        # in text, so a client's tool loop ends.
        text = TOOL_PREAMBLE if found.tool == "text" else ""
        tokens = TOOL_CALL_TOKENS + len(text.split())
        return Answer(text, tokens, conv.tool_name, number, tool_calls=2 if found.tool == "twice" else 1)
    text = f"This is a fake answer from {provider} to: {conv.last_user_text[:40]}"
    if found.words is not None:
        text = " ".join(islice(cycle(text.split()), found.words))
    return Answer(text, len(text.split()), None, number)


# Values the fake gives a schema's leaves: plain, and blind to bounds such as minimum or
# maxLength, so a test can tell whether a gateway checks an answer against its schema.
STRING_FORMATS = {"date-time": "2026-01-01T00:00:00Z", "date": "2026-01-01", "time": "00:00:00",
                  "email": "fake@example.com", "uuid": "00000000-0000-4000-8000-000000000000",
                  "uri": "https://example.com/"}
SCALARS = {"string": "fake", "integer": 1, "number": 1.5, "boolean": True, "null": None}


def instance_of(schema: Any, root: Any = None) -> Any:
    """A JSON value for `schema`: every property, one item per array, the first of any
    enum or anyOf; $refs into the root's $defs are followed."""
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return None
    if "$ref" in schema:
        return instance_of(root.get("$defs", {}).get(schema["$ref"].rsplit("/", 1)[-1]), root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return instance_of(schema[key][0], root)
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    kind = kind.lower() if isinstance(kind, str) else kind  # Gemini's responseSchema: "OBJECT"
    if kind == "object":
        return {name: instance_of(sub, root) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [instance_of(schema.get("items"), root)]
    if kind == "string" and schema.get("format") in STRING_FORMATS:
        return STRING_FORMATS[schema["format"]]
    return SCALARS.get(kind)


def json_fragments(value: Any) -> list[str]:
    """A value's JSON in three pieces, as a streamed tool input arrives."""
    text = json.dumps(value)
    third = max(1, len(text) // 3)
    return [text[:third], text[third:2 * third], text[2 * third:]]


def sse_data(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def sse_event(name: str, payload: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload), status=status, headers={**JSON_HEADERS, **(headers or {})}
    )


class RequestError(Exception):
    """A request the real provider would refuse with 400: the fake refuses it the same way."""


class ProviderProtocol:
    """One provider's wire format. Subclasses are stateless; the server owns I/O and counters."""

    name: str = ""
    bad_json_event: bytes = b"data: {this is not json\n\n"

    def auth_error(self, request: web.Request) -> web.Response | None:
        raise NotImplementedError

    def conversation(self, body: dict[str, Any], model: str) -> Conversation:
        """Validate the body (RequestError if the provider would reject it) and read it."""
        raise NotImplementedError

    def error_response(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        raise NotImplementedError

    def completion(self, conv: Conversation, answer: Answer) -> web.Response:
        raise NotImplementedError

    def stream_events(self, conv: Conversation, answer: Answer) -> list[bytes]:
        """Every SSE event of a successful stream, terminator included."""
        raise NotImplementedError

    def stream_error_event(self) -> bytes:
        raise NotImplementedError

    def response_headers(self, number: int) -> dict[str, str]:
        return {}


def need(condition: Any, message: str) -> None:
    if not condition:
        raise RequestError(message)

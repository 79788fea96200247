"""Streams and stored answers, both ways.

`CompletionBuilder` rebuilds the `chat.completion` a stream amounts to, from the OpenAI
chunks the gateway relayed (content, refusals and tool-call deltas, per choice), so a
streamed answer can be cached. `replay_events` turns a stored completion back into the
chunks a streaming client expects: a role chunk, content (and tool-call) deltas, a finish
chunk per choice, the usage chunk when `stream_options.include_usage` asked for it, then
`[DONE]`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from gateway_site.sse import DONE, encode_event

PIECE_CHARS = 64  # content is replayed in pieces of about this size, cut between words
_WORD = re.compile(r"\S+\s*|\s+")


@dataclass
class _ToolCall:
    id: str | None = None
    type: str = "function"
    name: list[str] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)


@dataclass
class _Choice:
    content: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    tool_calls: dict[int, _ToolCall] = field(default_factory=dict)
    finish_reason: str | None = None


class CompletionBuilder:
    """Accumulates stream chunks; `completion()` is None when they cannot be trusted."""

    def __init__(self) -> None:
        self.header: dict[str, Any] = {}
        self.choices: dict[int, _Choice] = {}
        self.unreadable = False

    def add(self, chunk: dict[str, Any]) -> None:
        if self.unreadable:
            return
        try:
            self._add(chunk)
        except (AttributeError, KeyError, TypeError, ValueError):
            self.unreadable = True  # never cache what we could not fully follow

    def _add(self, chunk: dict[str, Any]) -> None:
        if not self.header:
            self.header = {name: chunk[name] for name in ("id", "created", "model", "system_fingerprint") if name in chunk}
        for choice in chunk.get("choices") or ():
            buffer = self.choices.setdefault(int(choice.get("index", 0)), _Choice())
            delta = choice.get("delta") or {}
            if "function_call" in delta:
                raise ValueError("legacy function_call deltas are not rebuilt")
            if delta.get("content"):
                buffer.content.append(delta["content"])
            if delta.get("refusal"):
                buffer.refusal.append(delta["refusal"])
            for call in delta.get("tool_calls") or ():
                self._add_tool_call(buffer, call)
            if choice.get("finish_reason"):
                buffer.finish_reason = choice["finish_reason"]

    @staticmethod
    def _add_tool_call(buffer: _Choice, call: dict[str, Any]) -> None:
        entry = buffer.tool_calls.setdefault(int(call.get("index", 0)), _ToolCall())
        if call.get("id"):
            entry.id = call["id"]
        if call.get("type"):
            entry.type = call["type"]
        function = call.get("function") or {}
        if function.get("name"):
            entry.name.append(function["name"])
        if function.get("arguments"):
            entry.arguments.append(function["arguments"])

    def completion(self, usage: dict[str, Any] | None) -> dict[str, Any] | None:
        if self.unreadable or not self.choices or not self.header:
            return None
        choices = [_message_choice(index, self.choices[index]) for index in sorted(self.choices)]
        result = {"id": self.header.get("id"), "object": "chat.completion", "created": self.header.get("created"),
                  "model": self.header.get("model"), "choices": choices}
        if "system_fingerprint" in self.header:
            result["system_fingerprint"] = self.header["system_fingerprint"]
        if usage:
            result["usage"] = usage
        return result


def _message_choice(index: int, buffer: _Choice) -> dict[str, Any]:
    content = "".join(buffer.content)
    message: dict[str, Any] = {
        "role": "assistant",
        # OpenAI answers null, not "", when a turn is only tool calls
        "content": None if buffer.tool_calls and not content else content,
        "refusal": "".join(buffer.refusal) or None,
    }
    if buffer.tool_calls:
        message["tool_calls"] = [
            {"id": call.id, "type": call.type, "function": {"name": "".join(call.name), "arguments": "".join(call.arguments)}}
            for _, call in sorted(buffer.tool_calls.items())
        ]
    return {"index": index, "message": message, "logprobs": None, "finish_reason": buffer.finish_reason}


# --- replay -------------------------------------------------------------------------


def content_pieces(text: str) -> list[str]:
    """`text` cut between words into pieces of about PIECE_CHARS; "".join gives it back."""
    pieces, current = [], ""
    for word in _WORD.findall(text):
        current += word
        if len(current) >= PIECE_CHARS:
            pieces.append(current)
            current = ""
    if current:
        pieces.append(current)
    return pieces


def _choice_deltas(message: dict[str, Any]) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": piece} for piece in content_pieces(message.get("content") or "")]
    if message.get("refusal"):
        deltas.append({"refusal": message["refusal"]})
    for index, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function") or {}
        start = {"index": index, "id": call.get("id"), "type": call.get("type", "function"),
                 "function": {"name": function.get("name", ""), "arguments": ""}}
        deltas.append({"tool_calls": [start]})
        deltas += [{"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                   for piece in content_pieces(function.get("arguments") or "")]
    return deltas


def replay_events(completion: dict[str, Any], *, include_usage: bool) -> list[bytes]:
    header = {"id": completion.get("id"), "object": "chat.completion.chunk",
              "created": completion.get("created"), "model": completion.get("model")}
    if completion.get("system_fingerprint"):
        header["system_fingerprint"] = completion["system_fingerprint"]
    events = []
    for choice in completion.get("choices") or ():
        index = choice.get("index", 0)
        for delta in _choice_deltas(choice.get("message") or {}):
            events.append(encode_event({**header, "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": None}]}))
        finish = {"index": index, "delta": {}, "logprobs": None, "finish_reason": choice.get("finish_reason")}
        events.append(encode_event({**header, "choices": [finish]}))
    if include_usage and completion.get("usage"):
        events.append(encode_event({**header, "choices": [], "usage": completion["usage"]}))
    events.append(DONE)
    return events


async def replay_as_stream(completion: dict[str, Any], *, include_usage: bool) -> AsyncIterator[bytes]:
    """A cached answer as an SSE stream. One write: the answer is all here, and each ASGI
    send costs more than the bytes."""
    yield b"".join(replay_events(completion, include_usage=include_usage))

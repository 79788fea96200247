"""The Anthropic Messages API as an ingress: its requests in, its answers and events out.

Pure translation, both ways, between a Messages request and the gateway's OpenAI-shaped
chat payload (what every provider adapter takes), and between OpenAI-shaped answers and
stream chunks and Messages responses and events. (providers/anthropic.py is the opposite
direction: OpenAI requests to an Anthropic upstream.)

References: https://docs.anthropic.com/en/api/messages, .../messages-streaming and
.../errors; the SDK's own types (anthropic.types) for the field names.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import orjson

from gateway_site.errors import GatewayError, InvalidRequest, ModelNotFound, NotFound
from gateway_site.redaction import redact

CHARS_PER_TOKEN = 4  # the estimate's rule of thumb (OpenAI's, for English text)
ROLES = ("user", "assistant")
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}
# Blocks a non-Claude model cannot read and that carry nothing for it: dropped.
DROPPED_BLOCKS = frozenset({"thinking", "redacted_thinking"})
# Anthropic's error types by status (https://docs.anthropic.com/en/api/errors).
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
    529: "overloaded_error",
}


# --- Errors --------------------------------------------------------------------------


def error_status(error: GatewayError) -> int:
    # Anthropic answers an unknown model with 404 not_found_error (the SDK's NotFoundError),
    # where the OpenAI contract says 400 model_not_found.
    return NotFound.status if isinstance(error, ModelNotFound) else error.status


def error_body(error: GatewayError) -> dict[str, Any]:
    status = error_status(error)
    kind = ERROR_TYPES.get(status) or ("invalid_request_error" if status < 500 else "api_error")
    return {"type": "error", "error": {"type": kind, "message": redact(error.message)}}


def render_error(error: GatewayError, request_id: str) -> tuple[int, bytes]:
    """The front door's error renderer for the /v1/messages routes."""
    return error_status(error), orjson.dumps(error_body(error))


def error_event(error: GatewayError) -> bytes:
    return b"event: error\ndata: " + orjson.dumps(error_body(error)) + b"\n\n"


# --- Request: Messages -> OpenAI chat payload ------------------------------------------


def check_request(body: dict[str, Any], *, count_tokens: bool = False) -> None:
    """What the Messages API itself refuses with a 400 before looking at the model."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequest("model: Field required", param="model")
    max_tokens = body.get("max_tokens")
    if not count_tokens and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise InvalidRequest("max_tokens: Field required (a positive integer)", param="max_tokens")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: Field required (a non-empty array)", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise InvalidRequest(f"messages.{index}.role: Input should be 'user' or 'assistant'", param=f"messages.{index}")
        if not isinstance(message.get("content"), (str, list)):
            raise InvalidRequest(f"messages.{index}.content: Field required", param=f"messages.{index}.content")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        raise InvalidRequest("stream: Input should be a valid boolean", param="stream")


def chat_payload(body: dict[str, Any], *, strict: bool = True) -> dict[str, Any]:
    """The OpenAI-shaped chat payload saying what `body` says. `strict`: refuse what cannot
    be said (a 400); otherwise leave it out (for a Claude model, whose upstream gets the
    request as it is and which needs this only for estimates and translated fallbacks)."""
    messages: list[dict[str, Any]] = []
    system = _text_of(body.get("system"), "system", strict)
    if system:
        messages.append({"role": "system", "content": system})
    for index, message in enumerate(body["messages"]):
        if message["role"] == "user":
            messages += _user_messages(message["content"], index, strict)
        else:
            messages.append(_assistant_message(message["content"], index, strict))
    payload: dict[str, Any] = {"model": body["model"], "messages": messages}
    if body.get("max_tokens") is not None:
        payload["max_tokens"] = body["max_tokens"]
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            payload[name] = body[name]
    # top_k and thinking have no OpenAI equivalent: dropped (a Claude model gets them as sent).
    if body.get("stop_sequences"):
        payload["stop"] = list(body["stop_sequences"])
    user_id = (body.get("metadata") or {}).get("user_id") if isinstance(body.get("metadata"), dict) else None
    if isinstance(user_id, str) and user_id:
        payload["user"] = user_id
    _add_tools(payload, body, strict)
    if body.get("stream"):
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}  # message_delta needs the usage
    return payload


def _text_of(content: Any, param: str, strict: bool) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if not isinstance(content, list):
        raise InvalidRequest(f"{param}: Input should be a string or an array of text blocks", param=param)
    texts = []
    for index, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif strict and kind not in DROPPED_BLOCKS:
            raise _unsupported(kind, f"{param}.{index}")
    return "\n".join(texts)


def _unsupported(kind: Any, param: str) -> InvalidRequest:
    return InvalidRequest(f"{param}: content blocks of type {kind!r} are not supported for this model", param=param)


def _user_messages(content: Any, index: int, strict: bool) -> list[dict[str, Any]]:
    """A user turn: its tool results become `tool` messages (first, as OpenAI wants them
    right after the assistant's calls), the rest one user message."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for position, block in enumerate(content):
        param = f"messages.{index}.content.{position}"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text") or "")})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block, param)}})
        elif kind == "tool_result":
            results.append(_tool_message(block, param, strict))
        elif strict and kind not in DROPPED_BLOCKS:
            raise _unsupported(kind, param)
    if not parts:
        return results
    if all(part["type"] == "text" for part in parts):
        return [*results, {"role": "user", "content": "\n".join(part["text"] for part in parts)}]
    return [*results, {"role": "user", "content": parts}]


def _image_url(block: dict[str, Any], param: str) -> str:
    source = block.get("source") or {}
    if source.get("type") == "base64" and source.get("media_type") and source.get("data"):
        return f"data:{source['media_type']};base64,{source['data']}"
    if source.get("type") == "url" and source.get("url"):
        return str(source["url"])
    raise InvalidRequest(f"{param}.source: an image needs a base64 or url source", param=f"{param}.source")


def _tool_message(block: dict[str, Any], param: str, strict: bool) -> dict[str, Any]:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(f"{param}.tool_use_id: Field required", param=f"{param}.tool_use_id")
    text = _text_of(block.get("content"), f"{param}.content", strict)
    if block.get("is_error"):
        text = f"Error: {text}"  # OpenAI has no error flag on a tool result; the model reads it
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def _assistant_message(content: Any, index: int, strict: bool) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts, calls = [], []
    for position, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append({"id": block.get("id"), "type": "function",
                          "function": {"name": block.get("name"), "arguments": arguments}})
        elif strict and kind not in DROPPED_BLOCKS:
            raise _unsupported(kind, f"messages.{index}.content.{position}")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    elif message["content"] is None:
        message["content"] = ""
    return message


def _add_tools(payload: dict[str, Any], body: dict[str, Any], strict: bool) -> None:
    functions = []
    for index, tool in enumerate(body.get("tools") or ()):
        if not isinstance(tool, dict) or tool.get("type") not in (None, "custom") or not tool.get("name"):
            # Anthropic's server tools (web search, bash, ...) exist only on Anthropic.
            if strict:
                raise InvalidRequest(f"tools.{index}: only custom tools (name, input_schema) are supported for this model",
                                     param=f"tools.{index}")
            continue
        function = {"name": tool["name"], "parameters": tool.get("input_schema") or {"type": "object", "properties": {}}}
        if tool.get("description"):
            function["description"] = tool["description"]
        functions.append({"type": "function", "function": function})
    if not functions:
        return
    payload["tools"] = functions
    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return
    if choice.get("type") == "tool":
        payload["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif choice.get("type") in TOOL_CHOICES:
        payload["tool_choice"] = TOOL_CHOICES[choice["type"]]
    if choice.get("disable_parallel_tool_use") and choice.get("type") != "none":
        payload["parallel_tool_calls"] = False


# --- Estimated input tokens (count_tokens for a model without an endpoint for it) ---------


def estimated_input_tokens(body: dict[str, Any]) -> int:
    """Characters / 4 over everything the model reads: system, texts, tool results, tool
    calls' inputs and the tools' definitions. An estimate, as OpenAI's rule of thumb is."""
    chars = _chars(body.get("system"))
    for message in body.get("messages") or ():
        chars += _chars(message.get("content") if isinstance(message, dict) else None)
    if body.get("tools"):
        chars += len(orjson.dumps(body["tools"]))
    return max(1, math.ceil(chars / CHARS_PER_TOKEN))


def _chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    total = 0
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            total += len(str(block.get("text") or ""))
        elif block.get("type") == "tool_use":
            total += len(str(block.get("name") or "")) + len(orjson.dumps(block.get("input") or {}))
        elif block.get("type") == "tool_result":
            total += _chars(block.get("content"))
    return total


# --- Response: OpenAI completion -> Message ----------------------------------------------


def message_id(request_id: str) -> str:
    return f"msg_{request_id[4:]}"


def stop_reason(finish_reason: str | None) -> str:
    return STOP_REASONS.get(finish_reason or "", "end_turn")


def usage(openai_usage: dict[str, Any] | None) -> dict[str, int]:
    """Anthropic counts cached prompt tokens apart from input_tokens; OpenAI includes them."""
    openai_usage = openai_usage or {}
    cached = int((openai_usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    return {
        "input_tokens": int(openai_usage.get("prompt_tokens") or 0) - cached,
        "output_tokens": int(openai_usage.get("completion_tokens") or 0),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }


def openai_usage(raw: dict[str, Any]) -> dict[str, int]:
    """An Anthropic usage as OpenAI counts it (what the Outcome records): prompt tokens
    include the cached ones (as providers/anthropic.py counts them)."""
    prompt = sum(int(raw.get(name) or 0) for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
    output = int(raw.get("output_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output}


def message(completion: dict[str, Any], *, message_id: str, model: str) -> dict[str, Any]:
    choice = (completion.get("choices") or [{}])[0]
    answer = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if answer.get("content"):
        content.append({"type": "text", "text": answer["content"]})
    for call in answer.get("tool_calls") or ():
        function = call.get("function") or {}
        content.append({"type": "tool_use", "id": call.get("id"), "name": function.get("name"),
                        "input": _arguments(function.get("arguments"))})
    return {
        "id": message_id, "type": "message", "role": "assistant", "model": model, "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")), "stop_sequence": None,
        "usage": usage(completion.get("usage")),
    }


def _arguments(arguments: Any) -> dict[str, Any]:
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return {}  # a model's broken JSON: Anthropic's input is always an object
    return value if isinstance(value, dict) else {}


# --- Stream: OpenAI chunks -> Messages events --------------------------------------------


def sse(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class MessageEvents:
    """Turns OpenAI chunks into Anthropic's event sequence: message_start, ping, then per
    content block content_block_start / _delta... / _stop (text, then one per tool call),
    message_delta (stop_reason, usage) and message_stop."""

    def __init__(self, *, message_id: str, model: str) -> None:
        self.message_id, self.model = message_id, model
        self.started = False
        self.block = -1  # the index of the last block opened
        self.open_kind: str | None = None  # "text" or "tool_use" while a block is open
        self.tool_blocks: dict[int, int] = {}  # OpenAI tool-call index -> block index
        self.stop_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.finished = False

    def start(self) -> list[bytes]:
        if self.started:
            return []
        self.started = True
        message = {"id": self.message_id, "type": "message", "role": "assistant", "model": self.model,
                   "content": [], "stop_reason": None, "stop_sequence": None,
                   "usage": {"input_tokens": 0, "output_tokens": 0}}  # known at the end: message_delta says
        return [sse("message_start", {"type": "message_start", "message": message}), sse("ping", {"type": "ping"})]

    def chunk(self, chunk: dict[str, Any]) -> list[bytes]:
        events = self.start()
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events += self._text(delta["content"])
            for call in delta.get("tool_calls") or ():
                events += self._tool(call)
            if choice.get("finish_reason"):
                self.stop_reason = stop_reason(choice["finish_reason"])
        return events

    def finish(self) -> list[bytes]:
        if self.finished:
            return []
        self.finished = True
        events = self.start() + self._close()
        delta = {"stop_reason": self.stop_reason or "end_turn", "stop_sequence": None}
        events.append(sse("message_delta", {"type": "message_delta", "delta": delta, "usage": usage(self.usage)}))
        events.append(sse("message_stop", {"type": "message_stop"}))
        return events

    def _open(self, kind: str, block: dict[str, Any]) -> list[bytes]:
        events = self._close()
        self.block += 1
        self.open_kind = kind
        return [*events, sse("content_block_start", {"type": "content_block_start", "index": self.block, "content_block": block})]

    def _close(self) -> list[bytes]:
        if self.open_kind is None:
            return []
        self.open_kind = None
        return [sse("content_block_stop", {"type": "content_block_stop", "index": self.block})]

    def _text(self, text: str) -> list[bytes]:
        events = [] if self.open_kind == "text" else self._open("text", {"type": "text", "text": ""})
        return [*events, self._delta({"type": "text_delta", "text": text})]

    def _tool(self, call: dict[str, Any]) -> list[bytes]:
        events: list[bytes] = []
        index = call.get("index", 0)
        function = call.get("function") or {}
        if index not in self.tool_blocks:
            block = {"type": "tool_use", "id": call.get("id"), "name": function.get("name"), "input": {}}
            events = self._open("tool_use", block)
            self.tool_blocks[index] = self.block
        if function.get("arguments"):
            # OpenAI sends one call's fragments together, so they belong to the open block.
            events.append(self._delta({"type": "input_json_delta", "partial_json": function["arguments"]},
                                      self.tool_blocks[index]))
        return events

    def _delta(self, delta: dict[str, Any], index: int | None = None) -> bytes:
        return sse("content_block_delta", {"type": "content_block_delta", "index": self.block if index is None else index,
                                           "delta": delta})


async def message_stream(chat_stream: AsyncIterator[bytes], events: MessageEvents) -> AsyncIterator[bytes]:
    """The gateway's OpenAI SSE bytes (a relayed stream, or a cache's replay) as Messages
    events. Every piece the chat stream yields holds whole `data:` events."""
    try:
        async for out in _translated(chat_stream, events):
            yield out
    finally:
        # Closing this stream (a client that left) closes the chat stream, and its upstream.
        aclose = getattr(chat_stream, "aclose", None)
        if aclose is not None:
            await aclose()


async def _translated(chat_stream: AsyncIterator[bytes], events: MessageEvents) -> AsyncIterator[bytes]:
    async for piece in chat_stream:
        out: list[bytes] = []
        for line in piece.split(b"\n\n"):
            if not line.startswith(b"data: "):
                continue
            data = line[6:]
            if data == b"[DONE]":
                out += events.finish()
                continue
            chunk = orjson.loads(data)
            if "error" in chunk and "choices" not in chunk:
                events.finished = True  # the chat stream's in-band error ends it: say it Anthropic's way
                out.append(_error_event_from(chunk["error"]))
                continue
            out += events.chunk(chunk)
        if out:
            yield b"".join(out)


def _error_event_from(error: dict[str, Any]) -> bytes:
    kind = "overloaded_error" if error.get("code") == "provider_timeout" else "api_error"
    return sse("error", {"type": "error", "error": {"type": kind, "message": str(error.get("message") or "")}})

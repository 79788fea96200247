"""Fake Anthropic Messages API (wire formats B1-B4)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .base import (
    TOOL_ARG_FRAGMENTS,
    Answer,
    Conversation,
    ProviderProtocol,
    count_words,
    instance_of,
    json_fragments,
    json_response,
    need,
    sse_event,
)

# B4: error type per status; other 4xx are invalid_request_error, other 5xx api_error.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
# Models from before structured outputs: they refuse output_config.format and strict tools.
_WITHOUT_STRUCTURED_OUTPUTS = ("claude-sonnet-4-20250514", "claude-opus-4-20250514", "claude-3")
# What structured outputs refuse in a schema, by type (Anthropic's JSON Schema limitations).
_UNSUPPORTED_KEYWORDS = {
    "integer": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    "number": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    "string": ("minLength", "maxLength"),
    "array": ("maxItems", "uniqueItems"),
}


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return ""
    if block.get("type") == "text":
        return block.get("text", "")
    return ""


def _texts(content: Any) -> tuple[list[str], bool]:
    """Text the model reads in one message (tool results included) and whether it holds one."""
    if isinstance(content, str):
        return [content], False
    texts, has_result = [], False
    for block in content or ():
        if isinstance(block, dict) and block.get("type") == "tool_result":
            has_result = True
            inner = block.get("content")
            texts += [inner] if isinstance(inner, str) else [_block_text(b) for b in inner or ()]
        else:
            texts.append(_block_text(block))
    return texts, has_result


def _user_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(_block_text(b) for b in content or () if isinstance(b, dict) and b.get("type") == "text")


def _validate(body: dict[str, Any]) -> list[Any]:
    need(isinstance(body.get("model"), str), "model: Field required")
    need(isinstance(body.get("max_tokens"), int), "max_tokens: Field required")
    messages = body.get("messages")
    need(isinstance(messages, list) and messages, "messages: Field required")
    temperature = body.get("temperature", 1.0)
    need(isinstance(temperature, (int, float)) and 0 <= temperature <= 1, "temperature: range: 0..1")
    for index, message in enumerate(messages):
        # B1: there is no system role; a gateway must move it to the top-level "system".
        need(
            message.get("role") in ("user", "assistant"),
            f"messages.{index}.role: Input should be 'user' or 'assistant'",
        )
    _validate_structured(body)
    return messages


def _validate_structured(body: dict[str, Any]) -> None:
    """Structured outputs: only on newer models, and only with the supported schema subset."""
    schema = ((body.get("output_config") or {}).get("format") or {}).get("schema")
    strict_tools = [(i, tool) for i, tool in enumerate(body.get("tools") or ()) if tool.get("strict")]
    if schema is None and not strict_tools:
        return
    model = body["model"]
    need(not model.startswith(_WITHOUT_STRUCTURED_OUTPUTS), f"'{model}' does not support structured outputs")
    if schema is not None:
        _check_strict_schema(schema, "output_config.format.schema")
    for index, tool in strict_tools:
        _check_strict_schema(tool.get("input_schema"), f"tools.{index}.custom.input_schema")


def _check_strict_schema(schema: Any, where: str) -> None:
    if isinstance(schema, list):
        for i, sub in enumerate(schema):
            _check_strict_schema(sub, f"{where}.{i}")
        return
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    for keyword in _UNSUPPORTED_KEYWORDS.get(kind, ()):
        need(keyword not in schema, f"{where}: For '{kind}' type, property '{keyword}' is not supported")
    need(schema.get("minItems", 0) in (0, 1), f"{where}: For 'array' type, 'minItems' values other than 0 or 1 are not supported")
    if kind == "object":
        need(schema.get("additionalProperties") is False,
             f"{where}: For 'object' type, 'additionalProperties' must be explicitly set to false")
    for key in ("properties", "$defs"):
        for name, sub in (schema.get(key) or {}).items():
            _check_strict_schema(sub, f"{where}.{key}.{name}")
    for key in ("items", "anyOf", "allOf"):
        if key in schema:
            _check_strict_schema(schema[key], f"{where}.{key}")


def _forced_tool(body: dict[str, Any]) -> tuple[str | None, Any]:
    """The tool a {"type": "tool"} tool_choice makes the model call, and its input."""
    choice = body.get("tool_choice") or {}
    if choice.get("type") != "tool":
        return None, None
    schema = next((t.get("input_schema") for t in body.get("tools") or () if t.get("name") == choice.get("name")), None)
    return choice.get("name"), instance_of(schema)


class AnthropicProtocol(ProviderProtocol):
    name = "anthropic"
    bad_json_event = b"event: content_block_delta\ndata: {this is not json\n\n"

    def auth_error(self, request: web.Request) -> web.Response | None:
        key = request.headers.get("x-api-key", "")
        if key and key != "bad-key":
            if "anthropic-version" not in request.headers:
                return self.error_response(400, "anthropic-version: header is required")
            return None
        message = "invalid x-api-key" if key else "x-api-key header is required"
        return self.error_response(401, message)

    def conversation(self, body: dict[str, Any], model: str) -> Conversation:
        messages = _validate(body)
        texts, _ = _texts(body.get("system"))
        has_result, last_user = False, ""
        for message in messages:
            message_texts, has_result = _texts(message.get("content"))
            texts += message_texts
            if message["role"] == "user":
                last_user = _user_text(message.get("content")) or last_user
        tools = body.get("tools")
        forced_tool, forced_input = _forced_tool(body)
        schema = ((body.get("output_config") or {}).get("format") or {}).get("schema")
        return Conversation(
            model=body["model"],
            last_user_text=last_user,
            prompt_tokens=count_words(texts),
            tool_name=tools[0].get("name") if tools else None,
            ends_with_tool_result=messages[-1]["role"] == "user" and has_result,
            forced_tool=forced_tool,
            forced_input=forced_input,
            json_answer=instance_of(schema) if schema is not None else None,
        )

    def error_response(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}
        return json_response(body, status, headers)

    def response_headers(self, number: int) -> dict[str, str]:
        return {"request-id": f"req_fake{number}"}

    def count_tokens(self, body: dict[str, Any]) -> tuple[int, str]:
        """POST /v1/messages/count_tokens: the prompt tokens a Messages request with this
        body would count (the same rule), and the last user text (for directives)."""
        need(isinstance(body.get("model"), str), "model: Field required")
        messages = body.get("messages")
        need(isinstance(messages, list) and messages, "messages: Field required")
        for name in ("max_tokens", "stream"):  # the real endpoint refuses generation fields
            need(name not in body, f"{name}: Extra inputs are not permitted")
        texts, last_user = _texts(body.get("system"))[0], ""
        for message in messages:
            texts += _texts(message.get("content"))[0]
            if message.get("role") == "user":
                last_user = _user_text(message.get("content")) or last_user
        return count_words(texts), last_user

    def completion(self, conv: Conversation, answer: Answer) -> web.Response:
        body = {
            "id": f"msg_fake{answer.request_number}",
            "type": "message",
            "role": "assistant",
            "model": conv.model,
            "content": _content(answer),
            "stop_reason": "tool_use" if answer.tool_name else "end_turn",
            "stop_sequence": None,
            "usage": _usage(conv.prompt_tokens, answer.completion_tokens),
        }
        return json_response(body, headers=self.response_headers(answer.request_number))

    def stream_events(self, conv: Conversation, answer: Answer) -> list[bytes]:
        message = {
            "id": f"msg_fake{answer.request_number}",
            "type": "message",
            "role": "assistant",
            "model": conv.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            # B3: real input tokens, placeholder output tokens.
            "usage": _usage(conv.prompt_tokens, 1),
        }
        events = [sse_event("message_start", {"type": "message_start", "message": message})]
        events.append(sse_event("ping", {"type": "ping"}))  # real streams ping; clients must skip it
        index = 0
        if answer.text:
            events += _text_block(index, answer)
            index += 1
        if answer.tool_name:
            events += _tool_block(index, answer)
        delta = {"stop_reason": "tool_use" if answer.tool_name else "end_turn", "stop_sequence": None}
        usage = {"output_tokens": answer.completion_tokens}
        events.append(sse_event("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        events.append(sse_event("message_stop", {"type": "message_stop"}))
        return events

    def stream_error_event(self) -> bytes:
        return sse_event("error", _OVERLOADED)


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _content(answer: Answer) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    if answer.text:
        content.append({"type": "text", "text": answer.text})
    if answer.tool_name:
        content.append({**_tool_use(answer), "input": {"city": "Oslo"} if answer.tool_input is None else answer.tool_input})
    return content


def _tool_use(answer: Answer) -> dict[str, Any]:
    return {"type": "tool_use", "id": f"toolu_fake{answer.request_number}", "name": answer.tool_name, "input": {}}


def _block(index: int, block: dict[str, Any], deltas: list[dict[str, Any]]) -> list[bytes]:
    def event(name: str, **fields: Any) -> bytes:
        return sse_event(name, {"type": name, "index": index, **fields})

    events = [event("content_block_start", content_block=block)]
    events += [event("content_block_delta", delta=delta) for delta in deltas]
    events.append(event("content_block_stop"))
    return events


def _text_block(index: int, answer: Answer) -> list[bytes]:
    deltas = [{"type": "text_delta", "text": piece} for piece in answer.pieces()]
    return _block(index, {"type": "text", "text": ""}, deltas)


def _tool_block(index: int, answer: Answer) -> list[bytes]:
    block = _tool_use(answer)
    # The API's first input_json_delta is often empty; then the JSON arrives in pieces.
    fragments = ("", *(TOOL_ARG_FRAGMENTS if answer.tool_input is None else json_fragments(answer.tool_input)))
    deltas = [{"type": "input_json_delta", "partial_json": f} for f in fragments]
    return _block(index, block, deltas)

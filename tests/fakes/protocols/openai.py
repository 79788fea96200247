"""Fake OpenAI Chat Completions (wire formats A2-A4)."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from .base import (
    TOOL_ARG_FRAGMENTS,
    TOOL_ARGS,
    Answer,
    Conversation,
    ProviderProtocol,
    count_words,
    instance_of,
    json_fragments,
    json_response,
    need,
    sse_data,
)

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "o3-mini")
MODELS_BODY = {
    "object": "list",
    "data": [
        {"id": m, "object": "model", "created": 1700000000, "owned_by": "openai"} for m in MODELS
    ],
}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _first_tool(body: dict[str, Any]) -> str | None:
    tools = body.get("tools")
    if not tools:
        return None
    return tools[0].get("function", {}).get("name")


def _usage(conv: Conversation, answer: Answer) -> dict[str, Any]:
    prompt, completion = conv.prompt_tokens, answer.completion_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _tool_call(answer: Answer) -> dict[str, Any]:
    arguments = TOOL_ARGS if answer.tool_input is None else json.dumps(answer.tool_input)
    return {
        "id": f"call_fake{answer.request_number}",
        "type": "function",
        "function": {"name": answer.tool_name, "arguments": arguments},
    }


def _forced_tool(body: dict[str, Any]) -> tuple[str | None, Any]:
    """tool_choice {"type": "function", "function": {"name": N}}: N is called, with
    arguments built from its parameters' schema."""
    choice = body.get("tool_choice")
    name = ((choice.get("function") or {}).get("name")) if isinstance(choice, dict) else None
    if name is None:
        return None, None
    functions = (tool.get("function") or {} for tool in body.get("tools") or ())
    schema = next((function.get("parameters") for function in functions if function.get("name") == name), None)
    return name, instance_of(schema or {"type": "object"})


def _json_answer(body: dict[str, Any]) -> Any:
    """response_format json_schema: the answer, built from the schema."""
    response_format = body.get("response_format") or {}
    if response_format.get("type") != "json_schema":
        return None
    return instance_of((response_format.get("json_schema") or {}).get("schema") or {"type": "object"})


class OpenAIProtocol(ProviderProtocol):
    name = "openai"

    def auth_error(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        key = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if key and key != "bad-key":
            return None
        message = (
            "Incorrect API key provided: bad-key."
            if key
            else "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
        return self.error_response(401, message)

    def conversation(self, body: dict[str, Any], model: str) -> Conversation:
        need(isinstance(body.get("model"), str), "you must provide a model parameter")
        messages = body.get("messages")
        need(isinstance(messages, list) and messages, "'messages' must be a non-empty array")
        need(
            body.get("stream") or body.get("stream_options") is None,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        )
        texts, last_user = [], ""
        forced_tool, forced_input = _forced_tool(body)
        for index, message in enumerate(messages):
            role = message.get("role")
            need(role in _ROLES, f"Invalid value: {role!r} at messages[{index}].role")
            text = _text(message.get("content"))
            texts.append(text)
            if role == "user":
                last_user = text
        return Conversation(
            model=body["model"],
            last_user_text=last_user,
            prompt_tokens=count_words(texts),
            tool_name=_first_tool(body),
            ends_with_tool_result=messages[-1].get("role") in ("tool", "function"),
            include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
            forced_tool=forced_tool,
            forced_input=forced_input,
            json_answer=_json_answer(body),
        )

    def error_response(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        default = ("server_error" if status >= 500 else "invalid_request_error", None)
        kind, code = _ERROR_TYPES.get(status, default)
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return json_response(body, status, headers)

    def response_headers(self, number: int) -> dict[str, str]:
        return {"x-request-id": f"req_fake{number}"}

    def completion(self, conv: Conversation, answer: Answer) -> web.Response:
        message: dict[str, Any] = {"role": "assistant", "content": answer.text or None, "refusal": None}
        if answer.tool_name:
            message["tool_calls"] = [_tool_call(answer)]
        body = {
            "id": f"chatcmpl-fake{answer.request_number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": conv.model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if answer.tool_name else "stop",
                }
            ],
            "usage": _usage(conv, answer),
        }
        return json_response(body, headers=self.response_headers(answer.request_number))

    def stream_events(self, conv: Conversation, answer: Answer) -> list[bytes]:
        head = {
            "id": f"chatcmpl-fake{answer.request_number}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": conv.model,
            "system_fingerprint": "fp_fake",
        }
        if conv.include_usage:
            head["usage"] = None  # A3: every chunk but the last carries usage: null

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return sse_data({**head, "choices": [choice]})

        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": piece}) for piece in answer.pieces()]
        if answer.tool_name:
            events += _tool_deltas(answer, chunk)
        events.append(chunk({}, "tool_calls" if answer.tool_name else "stop"))
        if conv.include_usage:
            events.append(sse_data({**head, "choices": [], "usage": _usage(conv, answer)}))
        events.append(b"data: [DONE]\n\n")
        return events

    def stream_error_event(self) -> bytes:
        error = {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "param": None,
            "code": None,
        }
        return sse_data({"error": error})


def _tool_deltas(answer: Answer, chunk: Any) -> list[bytes]:
    # A3: the first delta of a call has index, id, type, name and empty arguments;
    # later deltas carry only the index and an arguments fragment.
    first = _tool_call(answer)
    first["index"] = 0
    first["function"] = {"name": answer.tool_name, "arguments": ""}
    events = [chunk({"tool_calls": [first]})]
    for fragment in TOOL_ARG_FRAGMENTS if answer.tool_input is None else json_fragments(answer.tool_input):
        events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]}))
    return events


def models_response() -> web.Response:
    return json_response(MODELS_BODY)

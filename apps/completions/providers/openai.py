"""OpenAI Chat Completions upstream, and the OpenAI-shape helpers every adapter shares.

The client-facing API is OpenAI's, so the OpenAI adapter is nearly a pass-through (it is
the hot path: no needless copying or re-shaping). The functions below the class read
OpenAI requests and build OpenAI responses for the Anthropic and Gemini adapters.
Reference: OpenAI's Chat Completions API docs (https://platform.openai.com/docs/api-reference/chat).

Malformed upstream payloads raise `ValueError` (see `malformed_as_value_error`); the
caller turns that into a 502 `provider_error`. Bad client input raises `InvalidRequest`.
"""

from __future__ import annotations

import functools
import mimetypes
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson

from gateway_site.errors import InvalidRequest

from .types import ModelRoute, SseEvent, StreamEventError, StreamState, UpstreamFailure, UpstreamRequest

ERROR_TEXT_LIMIT = 500
MESSAGE_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
SYSTEM_ROLES = frozenset({"system", "developer"})

F = TypeVar("F", bound=Callable[..., Any])


def malformed_as_value_error(method: F) -> F:
    """Report a missing key or a wrong type in an upstream payload as one `ValueError`."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (LookupError, TypeError, AttributeError) as exc:
            raise ValueError(f"Malformed upstream payload: {exc!r}") from exc

    return wrapper  # type: ignore[return-value]


class OpenAIAdapter:
    protocol = "openai"

    def build_request(self, payload: dict[str, Any], *, route: ModelRoute, stream: bool) -> UpstreamRequest:
        body = dict(payload)  # unknown fields pass through unchanged
        body["model"] = route.upstream_model
        if body.get("max_completion_tokens") is not None and "max_tokens" in body:
            del body["max_tokens"]  # [decision] max_completion_tokens wins; o-series reject max_tokens
        if stream:
            body["stream"] = True
            options = payload.get("stream_options")
            # The gateway always needs usage; the caller strips it if the client did not ask.
            body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)  # only allowed with stream: true
        return UpstreamRequest(
            url=f"{route.provider.base_url.rstrip('/')}/chat/completions",
            headers={"Authorization": f"Bearer {route.provider.api_key}"},
            json=body,
        )

    def parse_response(self, data: dict[str, Any], *, route: ModelRoute) -> dict[str, Any]:
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
            raise ValueError("OpenAI response without a choices list")
        return data

    def start_stream(self, *, route: ModelRoute, completion_id: str, created: int) -> StreamState:
        return StreamState(completion_id=completion_id, created=created, model=route.name)

    @malformed_as_value_error
    def parse_stream_event(self, state: StreamState, event: SseEvent) -> list[dict[str, Any]]:
        if event.data.startswith("[DONE]"):
            return []
        chunk = orjson.loads(event.data)
        if "error" in chunk:
            message, upstream_type = _error_fields(chunk["error"])
            raise StreamEventError(message or "Upstream stream error", upstream_type)
        if chunk.get("usage"):
            state.usage = chunk["usage"]
        choices = chunk["choices"]
        if not choices:
            return []  # the include_usage chunk: the caller sends its own
        finish_reason = choices[0].get("finish_reason")
        if finish_reason:
            state.finish_reason = finish_reason
        return [chunk]

    def finish_stream(self, state: StreamState) -> list[dict[str, Any]]:
        return []  # OpenAI streams always carry their own finish chunk

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        data = json_or_none(body)
        error = data.get("error") if isinstance(data, dict) else None
        message, upstream_type = _error_fields(error)
        return UpstreamFailure(
            status=status,
            message=message or error_text(status, body),
            upstream_type=upstream_type,
            auth_failure=status in (401, 403) or upstream_type == "invalid_api_key",
        )


def _error_fields(error: Any) -> tuple[str, str | None]:
    if isinstance(error, str):  # some OpenAI-compatible servers send {"error": "text"}
        return error, None
    if not isinstance(error, dict):
        return "", None
    upstream_type = error.get("code") or error.get("type")
    return str(error.get("message") or ""), str(upstream_type) if upstream_type else None


# --- Upstream error bodies ---------------------------------------------------------------


def json_or_none(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except ValueError:
        return None


def error_text(status: int, body: bytes) -> str:
    """A message for an error body we could not read: its (truncated) text, or the status."""
    text = body[:ERROR_TEXT_LIMIT].decode("utf-8", "replace").strip()
    return text or f"Upstream answered HTTP {status}"


# --- Reading OpenAI requests -------------------------------------------------------------


def message_role(message: Any, index: int) -> str:
    role = message.get("role") if isinstance(message, dict) else None
    if role not in MESSAGE_ROLES:
        raise InvalidRequest(f"Unsupported message role {role!r}", param=f"messages[{index}].role")
    return role


def content_parts(content: Any, param: str) -> list[tuple[str, dict[str, Any]]]:
    """A message's content as (param, part) pairs; a plain string becomes one text part."""
    if content is None:
        return []
    if isinstance(content, str):
        return [(param, {"type": "text", "text": content})]
    if not isinstance(content, list):
        raise InvalidRequest("Message content must be a string or a list of content parts", param=param)
    parts = []
    for j, part in enumerate(content):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise InvalidRequest("A content part must be an object with a type", param=f"{param}[{j}]")
        parts.append((f"{param}[{j}]", part))
    return parts


def part_text(part: dict[str, Any], param: str) -> str:
    text = part.get("refusal") if part["type"] == "refusal" else part.get("text")
    if not isinstance(text, str):
        raise InvalidRequest("A text content part needs a string text", param=param)
    return text


def user_content(
    message: dict[str, Any],
    index: int,
    *,
    text_item: Callable[[str], dict[str, Any]],
    image_item: Callable[[str, str], dict[str, Any]],
) -> list[dict[str, Any]]:
    """A user message's parts in another provider's shape: `text_item(text)` for text
    (empty text is dropped: Anthropic refuses it), `image_item(url, param)` for images."""
    items = []
    for param, part in content_parts(message.get("content"), f"messages[{index}].content"):
        if part["type"] == "text":
            text = part_text(part, param)
            if text:
                items.append(text_item(text))
        elif part["type"] == "image_url":
            items.append(image_item(image_url(part, param), param))
        else:
            raise unsupported_part(part, param)
    return items


def unsupported_part(part: dict[str, Any], param: str) -> InvalidRequest:
    return InvalidRequest(f"Content part type {part['type']!r} is not supported here", param=param)


def content_text(content: Any, param: str, *, allowed: tuple[str, ...] = ("text",)) -> str:
    """The text of system, developer, tool and assistant content (text parts only)."""
    texts = []
    for part_param, part in content_parts(content, param):
        if part["type"] not in allowed:
            raise unsupported_part(part, part_param)
        texts.append(part_text(part, part_param))
    return "".join(texts)


def assistant_text(message: dict[str, Any], index: int) -> str:
    if message.get("function_call"):
        raise InvalidRequest("Deprecated function_call is not supported; use tool_calls",
                             param=f"messages[{index}].function_call")
    return content_text(message.get("content"), f"messages[{index}].content", allowed=("text", "refusal"))


def assistant_tool_calls(message: dict[str, Any], index: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, name, parsed arguments) of each tool call in an assistant message."""
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise InvalidRequest("tool_calls must be a list", param=f"messages[{index}].tool_calls")
    return [_tool_call(call, f"messages[{index}].tool_calls[{j}]") for j, call in enumerate(calls)]


def _tool_call(call: Any, param: str) -> tuple[str, str, dict[str, Any]]:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(call.get("id"), str):
        raise InvalidRequest("A tool call needs an id and a function", param=param)
    if not isinstance(function.get("name"), str):
        raise InvalidRequest("A tool call needs a function name", param=f"{param}.function.name")
    return call["id"], function["name"], _tool_arguments(function.get("arguments"), f"{param}.function.arguments")


def _tool_arguments(arguments: Any, param: str) -> dict[str, Any]:
    if arguments in (None, ""):
        return {}  # some clients send "" for a call without arguments
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidRequest("Tool call arguments must be a JSON object", param=param)
    return parsed


def tool_result_call(message: dict[str, Any], index: int, known: dict[str, str]) -> tuple[str, str]:
    """(tool_call_id, function name) of a tool message; the id must answer an earlier call."""
    call_id = message.get("tool_call_id")
    if call_id not in known:
        raise InvalidRequest(
            f"tool_call_id {call_id!r} does not match any earlier assistant tool call",
            param=f"messages[{index}].tool_call_id",
        )
    return call_id, known[call_id]


def image_url(part: dict[str, Any], param: str) -> str:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str) or not url:
        raise InvalidRequest("image_url needs a url", param=f"{param}.image_url.url")
    return url


def parse_data_url(url: str, param: str) -> tuple[str, str]:
    """(media type, base64 data) of a `data:<type>;base64,<data>` URL."""
    header, comma, data = url.partition(",")
    if not comma or not header.endswith(";base64") or not data:
        raise InvalidRequest("Image data URLs must be base64 encoded", param=f"{param}.image_url.url")
    return header[len("data:"):].split(";", 1)[0].lower(), data


def guess_media_type(url: str) -> str | None:
    return mimetypes.guess_type(urlsplit(url).path)[0]


def requested_max_tokens(payload: dict[str, Any]) -> Any:
    # [decision] max_completion_tokens wins when both are sent.
    value = payload.get("max_completion_tokens")
    return value if value is not None else payload.get("max_tokens")


def stop_sequences(payload: dict[str, Any]) -> list[str]:
    stop = payload.get("stop")
    if stop is None:
        return []
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise InvalidRequest("stop must be a string or a list of strings", param="stop")
    return stops


def function_tools(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The `function` objects of the request's tools (other tool types are refused)."""
    tools = payload.get("tools") or []
    if not isinstance(tools, list):
        raise InvalidRequest("tools must be a list", param="tools")
    functions = []
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or tool.get("type", "function") != "function":
            raise InvalidRequest("Only function tools are supported for this model", param=f"tools[{i}]")
        if not isinstance(function.get("name"), str):
            raise InvalidRequest("A function tool needs a name", param=f"tools[{i}].function.name")
        functions.append(function)
    return functions


def tool_choice(payload: dict[str, Any]) -> tuple[str, str | None] | None:
    """("auto" | "none" | "required", None) or ("function", name); None when not sent."""
    choice = payload.get("tool_choice")
    if choice is None:
        return None
    if choice in ("auto", "none", "required"):
        return choice, None
    function = choice.get("function") if isinstance(choice, dict) else None
    if isinstance(function, dict) and choice.get("type") == "function" and isinstance(function.get("name"), str):
        return "function", function["name"]
    raise InvalidRequest("Unsupported tool_choice for this model", param="tool_choice")


def response_format(payload: dict[str, Any]) -> tuple[str, dict[str, Any] | None] | None:
    """("text" | "json_object", None) or ("json_schema", schema); None when not sent."""
    fmt = payload.get("response_format")
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind in ("text", "json_object"):
        return kind, None
    json_schema = fmt.get("json_schema") if kind == "json_schema" else None
    schema = json_schema.get("schema") if isinstance(json_schema, dict) else None
    if isinstance(schema, dict):
        return kind, schema
    raise InvalidRequest("Unsupported response_format", param="response_format")


# --- Building OpenAI responses -----------------------------------------------------------


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def tool_call(call_id: str, name: str, arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": orjson.dumps(arguments).decode()}}


def joined_content(texts: list[str], tool_calls: list[dict[str, Any]]) -> str | None:
    # OpenAI sends content null only beside tool calls; an empty answer is "".
    return "".join(texts) if texts or not tool_calls else None


def choice(index: int, content: str | None, tool_calls: list[dict[str, Any]], finish_reason: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"index": index, "message": message, "logprobs": None, "finish_reason": finish_reason}


def completion(*, completion_id: str, model: str, choices: list[dict[str, Any]],
               usage: dict[str, Any]) -> dict[str, Any]:
    return {"id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": choices, "usage": usage}


def usage(prompt: int, completion_tokens: int, total: int | None = None, *, cached: int = 0,
          reasoning: int | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens if total is None else total,
        "prompt_tokens_details": {"cached_tokens": cached},
    }
    if reasoning is not None:
        result["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return result


def chunk(state: StreamState, delta: dict[str, Any], *, finish_reason: str | None = None,
          index: int = 0) -> dict[str, Any]:
    return {"id": state.completion_id, "object": "chat.completion.chunk", "created": state.created,
            "model": state.model,
            "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}


def role_chunk(state: StreamState, index: int = 0) -> dict[str, Any]:
    return chunk(state, {"role": "assistant", "content": ""}, index=index)


def finish_chunk(state: StreamState, finish_reason: str, index: int = 0) -> dict[str, Any]:
    state.finish_reason = finish_reason
    return chunk(state, {}, finish_reason=finish_reason, index=index)


def tool_call_delta(index: int, *, call_id: str | None = None, name: str | None = None,
                    arguments: str = "") -> dict[str, Any]:
    """A tool_calls delta: the first one of a call carries id, type and name."""
    if call_id is None:
        return {"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}
    return {"tool_calls": [{"index": index, "id": call_id, "type": "function",
                            "function": {"name": name, "arguments": arguments}}]}

"""OpenAI's Responses API (POST /v1/responses) as the gateway's chat shape, and back.

Pure translation, no I/O: a Responses request becomes a chat-completions payload that the
usual path serves (admission, caches, retries, fallbacks, every provider), and the chat
answer becomes a `response` object. Streams: responses_events.py.

Request: `instructions` → a system message; `input` (a string, or items: `message` with
`input_text`/`input_image`/`output_text` parts, `function_call` → an assistant tool call,
`function_call_output` → a tool message; `reasoning` items are dropped) → messages;
function `tools` and `tool_choice` → chat's; `text.format` → `response_format`;
`max_output_tokens` → `max_tokens`. What chat cannot express (built-in tools, files,
`background`) is refused with a 400 naming the field.
Reference: https://platform.openai.com/docs/api-reference/responses/create
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway_site.errors import InvalidRequest

MESSAGE_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
TOOL_CHOICE_MODES = ("auto", "none", "required")
# Passed to the chat payload as they are (same name, same meaning).
SAME_FIELDS = ("temperature", "top_p", "parallel_tool_calls", "user")
# Accepted and ignored: they change nothing the gateway does (OpenAI-side options).
IGNORED_FIELDS = frozenset({
    "include", "truncation", "service_tier", "prompt_cache_key", "safety_identifier", "reasoning",
    "top_logprobs", "max_tool_calls", "metadata", "store", "stream_options", "prompt_cache_retention",
})
HANDLED_FIELDS = frozenset({
    "model", "input", "instructions", "tools", "tool_choice", "text", "max_output_tokens", "stream",
    "previous_response_id", *SAME_FIELDS,
})


@dataclass
class ResponsesAsk:
    """A Responses request, read and checked; `input_items` always a list of items."""

    payload: dict[str, Any]
    input_items: list[dict[str, Any]]
    stream: bool = False
    store: bool = True
    previous_response_id: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)


def read_responses_request(payload: dict[str, Any]) -> ResponsesAsk:
    """Checks what the translation relies on; the chat payload it becomes is then checked
    against OpenAI's chat schema like any chat request."""
    for name in payload:
        if name not in HANDLED_FIELDS and name not in IGNORED_FIELDS:
            raise InvalidRequest(f"Unsupported parameter: '{name}' is not supported by this gateway", param=name)
    if not isinstance(payload.get("model"), str) or not payload["model"]:
        raise InvalidRequest("Invalid 'model': expected a non-empty string", param="model")
    previous = payload.get("previous_response_id")
    if previous is not None and (not isinstance(previous, str) or not previous):
        raise InvalidRequest("Invalid 'previous_response_id': expected a response id", param="previous_response_id")
    tools = payload.get("tools") or []
    if not isinstance(tools, list):
        raise InvalidRequest("Invalid 'tools': expected an array", param="tools")
    return ResponsesAsk(
        payload=payload,
        input_items=_input_items(payload.get("input")),
        stream=payload.get("stream") is True,
        store=payload.get("store") is not False,
        previous_response_id=previous,
        tools=tools,
    )


def _input_items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise InvalidRequest("Invalid 'input': expected a string or a non-empty array of items", param="input")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidRequest(f"Invalid 'input[{index}]': expected an object", param=f"input[{index}]")
    return value


# --- request: Responses → chat ------------------------------------------------------


def chat_payload(ask: ResponsesAsk, history: list[dict[str, Any]]) -> dict[str, Any]:
    """The chat-completions payload for `ask`, continuing the conversation `history`
    (the items of a stored response, earlier turns included)."""
    source = ask.payload
    messages = []
    instructions = source.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise InvalidRequest("Invalid 'instructions': expected a string", param="instructions")
        messages.append({"role": "system", "content": instructions})
    messages += chat_messages(history, where="previous_response_id")
    messages += chat_messages(ask.input_items, where="input")
    chat: dict[str, Any] = {"model": source["model"], "messages": messages}
    for name in SAME_FIELDS:
        if source.get(name) is not None:
            chat[name] = source[name]
    if source.get("max_output_tokens") is not None:
        chat["max_tokens"] = source["max_output_tokens"]
    if ask.tools:
        chat["tools"] = [_chat_tool(tool, index) for index, tool in enumerate(ask.tools)]
    if source.get("tool_choice") is not None:
        chat["tool_choice"] = _chat_tool_choice(source["tool_choice"])
    response_format = _response_format((source.get("text") or {}).get("format") if isinstance(source.get("text"), dict) else None)
    if response_format is not None:
        chat["response_format"] = response_format
    if ask.stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}  # the usage of response.completed
    return chat


def chat_messages(items: list[dict[str, Any]], *, where: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        param = f"{where}[{index}]"
        kind = item.get("type", "message")
        if kind == "message":
            role = MESSAGE_ROLES.get(item.get("role"))
            if role is None:
                raise InvalidRequest(f"Invalid '{param}.role': expected one of {', '.join(MESSAGE_ROLES)}", param=f"{param}.role")
            messages.append({"role": role, "content": _chat_content(item.get("content"), role=role, param=param)})
        elif kind == "function_call":
            _append_tool_call(messages, item, param)
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or not call_id:
                raise InvalidRequest(f"Missing '{param}.call_id'", param=f"{param}.call_id")
            messages.append({"role": "tool", "tool_call_id": call_id, "content": _output_text(item.get("output"), param)})
        elif kind == "reasoning":
            continue  # a model's own reasoning summary: other models cannot read it back
        else:
            raise InvalidRequest(f"Input items of type '{kind}' are not supported by this gateway", param=f"{param}.type")
    return messages


def _append_tool_call(messages: list[dict[str, Any]], item: dict[str, Any], param: str) -> None:
    """Consecutive calls (and a text just before them) are one assistant turn in chat."""
    call_id, name = item.get("call_id"), item.get("name")
    if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or not name:
        raise InvalidRequest(f"'{param}' needs a 'call_id' and a 'name'", param=param)
    arguments = item.get("arguments")
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments if isinstance(arguments, str) else "{}"}}
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant":
        last.setdefault("tool_calls", []).append(call)
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _chat_content(content: Any, *, role: str, param: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest(f"Invalid '{param}.content': expected a string or an array of parts", param=f"{param}.content")
    parts = [_chat_part(part, f"{param}.content[{index}]") for index, part in enumerate(content)]
    if all(part["type"] == "text" for part in parts):
        # One string reads the same to every provider; a user's several parts stay blocks.
        return parts if role == "user" and len(parts) > 1 else "".join(part["text"] for part in parts)
    if role != "user":
        raise InvalidRequest(f"Invalid '{param}.content': only a user message may carry images", param=f"{param}.content")
    return parts


def _chat_part(part: Any, param: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text"):
        if not isinstance(part.get("text"), str):
            raise InvalidRequest(f"Invalid '{param}.text': expected a string", param=f"{param}.text")
        return {"type": "text", "text": part["text"]}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal") or "")}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            raise InvalidRequest(f"'{param}' needs an 'image_url' (file ids are not supported)", param=f"{param}.image_url")
        return {"type": "image_url", "image_url": {"url": url, "detail": part.get("detail") or "auto"}}
    raise InvalidRequest(f"Content parts of type '{kind}' are not supported by this gateway", param=f"{param}.type")


def _output_text(output: Any, param: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(_chat_part(part, f"{param}.output[{i}]").get("text", "") for i, part in enumerate(output))
    raise InvalidRequest(f"Invalid '{param}.output': expected a string", param=f"{param}.output")


def _chat_tool(tool: Any, index: int) -> dict[str, Any]:
    param = f"tools[{index}]"
    if not isinstance(tool, dict) or tool.get("type") != "function":
        kind = tool.get("type") if isinstance(tool, dict) else None
        raise InvalidRequest(f"Tools of type '{kind}' are not supported by this gateway; use function tools", param=f"{param}.type")
    if not isinstance(tool.get("name"), str) or not tool["name"]:
        raise InvalidRequest(f"Missing '{param}.name'", param=f"{param}.name")
    function = {name: tool[name] for name in ("name", "description", "parameters", "strict") if tool.get(name) is not None}
    return {"type": "function", "function": function}


def _chat_tool_choice(choice: Any) -> str | dict[str, Any]:
    if choice in TOOL_CHOICE_MODES:
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise InvalidRequest("Invalid 'tool_choice': expected auto, none, required or a function", param="tool_choice")


def _response_format(text_format: Any) -> dict[str, Any] | None:
    if text_format is None:
        return None
    kind = text_format.get("type") if isinstance(text_format, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {name: text_format[name] for name in ("name", "description", "schema", "strict") if name in text_format}
        return {"type": "json_schema", "json_schema": schema}
    raise InvalidRequest("Invalid 'text.format': expected text, json_object or json_schema", param="text.format")


# --- answer: chat → Responses -------------------------------------------------------


def response_id_for(request_id: str) -> str:
    return f"resp_{request_id[4:]}"


def output_items(completion: dict[str, Any], response_id: str) -> list[dict[str, Any]]:
    """The `output` of a response from a chat completion's first choice."""
    message = (completion.get("choices") or [{}])[0].get("message") or {}
    suffix = response_id[5:]
    items: list[dict[str, Any]] = []
    if message.get("content") or message.get("refusal"):
        part = (
            {"type": "output_text", "text": message["content"], "annotations": [], "logprobs": []}
            if message.get("content") else {"type": "refusal", "refusal": message["refusal"]}
        )
        items.append(message_item(f"msg_{suffix}", [part], status="completed"))
    for index, call in enumerate(message.get("tool_calls") or ()):
        function = call.get("function") or {}
        items.append(function_call_item(f"fc_{suffix}_{index}", call.get("id") or "", function.get("name") or "",
                                        function.get("arguments") or "", status="completed"))
    return items


def message_item(item_id: str, content: list[dict[str, Any]], *, status: str) -> dict[str, Any]:
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": content}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, *, status: str) -> dict[str, Any]:
    return {"type": "function_call", "id": item_id, "call_id": call_id, "name": name, "arguments": arguments, "status": status}


def responses_usage(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    if not usage:
        return None
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)},
        "total_tokens": prompt + completion,
    }


INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


def response_object(
    ask: ResponsesAsk, *, response_id: str, created_at: int, model: str, status: str, output: list[dict[str, Any]],
    usage: dict[str, Any] | None = None, finish_reason: str | None = None, error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A `response` object; `usage` in chat's shape."""
    source = ask.payload
    reason = INCOMPLETE_REASONS.get(finish_reason or "")
    if status == "completed" and reason is not None:
        status = "incomplete"
    text = source.get("text") if isinstance(source.get("text"), dict) else {}
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": error,
        "incomplete_details": {"reason": reason} if status == "incomplete" else None,
        "instructions": source.get("instructions"),
        "max_output_tokens": source.get("max_output_tokens"),
        "model": model,
        "output": output,
        "parallel_tool_calls": source.get("parallel_tool_calls", True),
        "previous_response_id": ask.previous_response_id,
        "store": ask.store,
        "temperature": source.get("temperature"),
        "text": {"format": text.get("format") or {"type": "text"}},
        "tool_choice": source.get("tool_choice", "auto"),
        "tools": ask.tools,
        "top_p": source.get("top_p"),
        "usage": responses_usage(usage),
        "metadata": source.get("metadata") or {},
    }


def response_from_completion(ask: ResponsesAsk, completion: dict[str, Any], *, response_id: str) -> dict[str, Any]:
    choice = (completion.get("choices") or [{}])[0]
    return response_object(
        ask, response_id=response_id, created_at=int(completion.get("created") or 0), model=completion.get("model") or "",
        status="completed", output=output_items(completion, response_id), usage=completion.get("usage"),
        finish_reason=choice.get("finish_reason"),
    )

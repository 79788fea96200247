"""Anthropic Messages API upstream: OpenAI chat requests in, OpenAI responses out.

Reference: Anthropic's Messages API docs (https://docs.anthropic.com/en/api/messages, and
messages-streaming for the SSE events).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway_site.errors import InvalidRequest, ProviderError

from . import openai_shapes as oai
from .anthropic_schema import AnswerSchemas, answer_schemas, strict_schema
from .types import ModelRoute, SseEvent, StreamEventError, StreamState, UpstreamFailure, UpstreamRequest

ANTHROPIC_VERSION = "2023-06-01"
IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# [decision] a conversation must start with a user turn; like LiteLLM we insert a minimal
# one rather than refuse a request OpenAI would accept.
PLACEHOLDER_USER_TEXT = "."
# Tool blocks in the history are refused upstream unless tools are declared [LiteLLM].
PLACEHOLDER_TOOL = {
    "name": "no_tools_available",
    "description": "Placeholder: this conversation used tools that are no longer offered. Do not call it.",
    "input_schema": {"type": "object", "properties": {}},
}
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    "pause_turn": "stop",
    "model_context_window_exceeded": "length",  # [decision] the output was cut short
}
TOOL_CHOICES = {"auto": "auto", "required": "any", "none": "none"}
# Claude models without structured outputs get the JSON answer through this forced tool,
# whose input is the answer [LiteLLM's name]; the client sees it as the message content.
ANSWER_TOOL = "json_tool_call"
ANSWER_TOOL_DESCRIPTION = "Give your final answer as this tool's input, following its schema exactly."
# metadata.user_id must be an opaque id, never an email or phone number; such values are
# skipped, as LiteLLM does (B5).
PERSONAL_USER_ID = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^\+[\d\s().-]{7,}$")


@dataclass
class AnthropicStreamState(StreamState):
    raw_usage: dict[str, Any] = field(default_factory=dict)  # Anthropic-shaped, cumulative
    tool_indexes: dict[int, int] = field(default_factory=dict)  # content block index -> OpenAI tool index
    tools_with_arguments: set[int] = field(default_factory=set)
    started: bool = False
    finished: bool = False
    schemas: AnswerSchemas | None = None
    answer_blocks: set[int] = field(default_factory=set)  # blocks of ANSWER_TOOL: sent as content
    text: list[str] = field(default_factory=list)  # the content so far, kept only to check it
    tool_names: dict[int, str] = field(default_factory=dict)  # OpenAI tool index -> name
    tool_arguments: dict[int, list[str]] = field(default_factory=dict)  # kept only to check them


class AnthropicAdapter:
    protocol = "anthropic"

    def build_request(self, payload: dict[str, Any], *, route: ModelRoute, stream: bool) -> UpstreamRequest:
        system, turns = _translate_messages(payload["messages"])
        body: dict[str, Any] = {"model": route.upstream_model, "max_tokens": _max_tokens(payload, route)}
        if system:
            body["system"] = system
        body["messages"] = turns
        _add_sampling(body, payload)
        _add_tools(body, payload, turns, route)
        _add_response_format(body, payload, route)
        _add_metadata(body, payload)
        # Presence/frequency penalties, seed, logprobs and logit_bias have no equivalent and are
        # dropped silently [decision]: the contract ignores fields a non-OpenAI upstream lacks,
        # and a 400 would break clients that always send them (LiteLLM raises unless drop_params).
        if stream:
            body["stream"] = True
        return UpstreamRequest(
            url=f"{route.provider.base_url.rstrip('/')}/v1/messages",
            headers={"x-api-key": route.provider.api_key, "anthropic-version": ANTHROPIC_VERSION},
            json=body,
        )

    @oai.malformed_as_value_error
    def parse_response(self, data: dict[str, Any], *, route: ModelRoute,
                       payload: dict[str, Any] | None = None) -> dict[str, Any]:
        schemas = answer_schemas(payload, via_tool=not route.structured_outputs)
        texts, calls, answer = [], [], None
        for block in data["content"]:
            if block["type"] == "text":
                texts.append(block["text"])
            elif block["type"] == "tool_use" and schemas and schemas.via_tool and block["name"] == ANSWER_TOOL:
                answer = orjson.dumps(block["input"]).decode()
            elif block["type"] == "tool_use":
                calls.append(oai.tool_call(block["id"], block["name"], block["input"]))
            # thinking / redacted_thinking blocks are dropped: the gateway never asks for them.
        finish_reason = _finish_reason(data.get("stop_reason"))
        if answer is not None:
            texts = [answer]  # the answer is the JSON alone, without any preamble
            finish_reason = "stop" if not calls else finish_reason
        content = oai.joined_content(texts, calls)
        if schemas:
            named = [(call["function"]["name"], call["function"]["arguments"]) for call in calls]
            mismatch = schemas.mismatch(content, named, finish_reason)
            if mismatch:
                raise ProviderError(f"{route.name}: {mismatch}")
        choice = oai.choice(0, content, calls, finish_reason)
        return oai.completion(completion_id=data["id"], model=route.name, choices=[choice], usage=_usage(data["usage"]))

    def start_stream(self, *, route: ModelRoute, completion_id: str, created: int,
                     payload: dict[str, Any] | None = None) -> StreamState:
        return AnthropicStreamState(completion_id=completion_id, created=created, model=route.name,
                                    schemas=answer_schemas(payload, via_tool=not route.structured_outputs))

    @oai.malformed_as_value_error
    def parse_stream_event(self, state: AnthropicStreamState, event: SseEvent) -> list[dict[str, Any]]:
        if event.event == "ping":
            return []
        data = orjson.loads(event.data)
        handler = _STREAM_HANDLERS.get(data.get("type") or event.event)
        return handler(state, data) if handler else []  # unknown event types are ignored (B3)

    def finish_stream(self, state: AnthropicStreamState) -> list[dict[str, Any]]:
        if not state.started or state.finished:
            return []
        state.finished = True
        return [oai.finish_chunk(state, state.finish_reason or "stop")]

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        data = oai.json_or_none(body)
        error = data.get("error") if isinstance(data, dict) else None
        if not isinstance(error, dict):
            return UpstreamFailure(status, oai.error_text(status, body), None, status in (401, 403))
        upstream_type = error.get("type")
        return UpstreamFailure(
            status=status,
            message=str(error.get("message") or oai.error_text(status, body)),
            upstream_type=upstream_type,
            auth_failure=status in (401, 403) or upstream_type in ("authentication_error", "permission_error"),
        )


# --- Request: messages -------------------------------------------------------------------


def _translate_messages(messages: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    """(system text, user/assistant turns); same-role runs merged into one turn [LiteLLM]."""
    system_texts: list[str] = []
    turns: list[dict[str, Any]] = []
    tool_names: dict[str, str] = {}  # tool_call_id -> name, from earlier assistant turns
    for i, message in enumerate(messages):
        role = oai.message_role(message, i)
        if role in oai.SYSTEM_ROLES:
            system_texts.append(oai.content_text(message.get("content"), f"messages[{i}].content"))
        elif role == "assistant":
            _append_turn(turns, "assistant", _assistant_blocks(message, i, tool_names))
        elif role == "tool":
            _append_turn(turns, "user", [_tool_result_block(message, i, tool_names)])
        else:
            _append_turn(turns, "user", _user_blocks(message, i))
    _finish_turns(turns)
    return "\n\n".join(text for text in system_texts if text), turns


def _append_turn(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _finish_turns(turns: list[dict[str, Any]]) -> None:
    for turn in turns:
        if turn["role"] == "user":
            # Tool results must come first in their user turn (Anthropic tool-use docs).
            turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    if turns and turns[-1]["role"] == "assistant":
        _strip_prefill(turns)
    if not turns or turns[0]["role"] != "user":
        turns.insert(0, {"role": "user", "content": [{"type": "text", "text": PLACEHOLDER_USER_TEXT}]})


def _strip_prefill(turns: list[dict[str, Any]]) -> None:
    # A final assistant turn is a prefill, and Anthropic refuses one ending in whitespace.
    blocks = turns[-1]["content"]
    if blocks[-1]["type"] == "text":
        blocks[-1]["text"] = blocks[-1]["text"].rstrip()
        if not blocks[-1]["text"]:
            blocks.pop()
    if not blocks:
        turns.pop()


def _text_blocks(text: str) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}] if text else []  # empty text blocks are refused


def _user_blocks(message: dict[str, Any], index: int) -> list[dict[str, Any]]:
    return oai.user_content(message, index, text_item=lambda text: {"type": "text", "text": text}, image_item=_image_block)


def _image_block(url: str, param: str) -> dict[str, Any]:
    if url.startswith("data:"):
        media_type, data = oai.parse_data_url(url, param)
        if media_type not in IMAGE_MEDIA_TYPES:
            raise InvalidRequest(f"Image type {media_type!r} is not supported; use JPEG, PNG, GIF or WebP",
                                 param=f"{param}.image_url.url")
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise InvalidRequest("Image URLs must be https or base64 data URLs", param=f"{param}.image_url.url")


def _assistant_blocks(message: dict[str, Any], index: int, tool_names: dict[str, str]) -> list[dict[str, Any]]:
    blocks = _text_blocks(oai.assistant_text(message, index))
    for call_id, name, arguments in oai.assistant_tool_calls(message, index):
        tool_names[call_id] = name
        blocks.append({"type": "tool_use", "id": call_id, "name": name, "input": arguments})
    return blocks


def _tool_result_block(message: dict[str, Any], index: int, tool_names: dict[str, str]) -> dict[str, Any]:
    call_id, _ = oai.tool_result_call(message, index, tool_names)
    text = oai.content_text(message.get("content"), f"messages[{index}].content")
    return {"type": "tool_result", "tool_use_id": call_id, "content": text}


# --- Request: parameters -----------------------------------------------------------------


def _max_tokens(payload: dict[str, Any], route: ModelRoute) -> Any:
    requested = oai.requested_max_tokens(payload)
    if requested is not None:
        return requested
    # Anthropic has no default, so the gateway supplies one per model, else per provider.
    return route.max_tokens_default or route.provider.default_max_tokens


def _add_sampling(body: dict[str, Any], payload: dict[str, Any]) -> None:
    temperature = payload.get("temperature")
    if isinstance(temperature, (int, float)) and temperature > 1:
        # [decision] refuse rather than clamp: Anthropic's range is 0-1, and a silent clamp
        # would change the behaviour the client asked for.
        raise InvalidRequest("temperature must be between 0 and 1 for this model", param="temperature")
    n = payload.get("n")
    if isinstance(n, int) and n > 1:
        raise InvalidRequest("n > 1 is not supported for this model", param="n")
    for key in ("temperature", "top_p"):
        if payload.get(key) is not None:
            body[key] = payload[key]
    # Whitespace-only stop sequences are refused upstream [LiteLLM].
    stops = [stop for stop in oai.stop_sequences(payload) if stop.strip()]
    if stops:
        body["stop_sequences"] = stops


def _add_tools(body: dict[str, Any], payload: dict[str, Any], turns: list[dict[str, Any]], route: ModelRoute) -> None:
    functions = oai.function_tools(payload)
    answer_tool = None if route.structured_outputs else _answer_tool(payload)
    if not functions and answer_tool is None:
        if _has_tool_blocks(turns):
            body["tools"] = [PLACEHOLDER_TOOL]
            body["tool_choice"] = {"type": "none"}
        return
    body["tools"] = [_tool(function, i, route) for i, function in enumerate(functions)]
    requested, parallel = oai.tool_choice(payload), payload.get("parallel_tool_calls")
    if answer_tool is not None:
        body["tools"].append(answer_tool)
        requested = _choice_with_answer_tool(requested, bool(functions))
        parallel = False if requested == ("function", ANSWER_TOOL) else parallel
    choice = _tool_choice(requested, parallel)
    if choice:
        body["tool_choice"] = choice


def _tool(function: dict[str, Any], index: int, route: ModelRoute) -> dict[str, Any]:
    schema = function.get("parameters") or {"type": "object", "properties": {}}
    tool = {"name": function["name"], "input_schema": schema}
    if function.get("description"):
        tool["description"] = function["description"]
    # Older models know no strict tools; their arguments are still checked (AnswerSchemas).
    if function.get("strict") is not None and route.structured_outputs:
        tool["strict"] = function["strict"]
        if function["strict"]:
            tool["input_schema"] = _strict(schema, f"tools[{index}].function.parameters")
    return tool


def _strict(schema: dict[str, Any], param: str) -> dict[str, Any]:
    try:
        return strict_schema(schema)
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidRequest(f"This JSON schema cannot be used for structured output: {exc}", param=param) from None


def _answer_tool(payload: dict[str, Any]) -> dict[str, Any] | None:
    fmt = oai.response_format(payload)
    if not fmt or fmt[0] != "json_schema":
        return None
    # The client's schema as it is: a non-strict tool accepts all of JSON Schema.
    return {"name": ANSWER_TOOL, "description": ANSWER_TOOL_DESCRIPTION, "input_schema": fmt[1]}


def _choice_with_answer_tool(requested: tuple[str, str | None] | None, has_functions: bool) -> tuple[str, str | None]:
    """The answer must come through a tool: the model may pick a client tool only when the
    client let it; otherwise the answer tool is forced."""
    if requested and requested[0] == "function":
        return requested
    if has_functions and (requested is None or requested[0] in ("auto", "required")):
        return "required", None
    return "function", ANSWER_TOOL


def _tool_choice(requested: tuple[str, str | None] | None, parallel: Any) -> dict[str, Any] | None:
    if requested is None and parallel is not False:
        return None
    kind, name = requested or ("auto", None)
    choice: dict[str, Any] = {"type": "tool", "name": name} if kind == "function" else {"type": TOOL_CHOICES[kind]}
    if parallel is False and choice["type"] != "none":  # "none" does not accept the flag
        choice["disable_parallel_tool_use"] = True
    return choice


def _has_tool_blocks(turns: list[dict[str, Any]]) -> bool:
    return any(block["type"] in ("tool_use", "tool_result") for turn in turns for block in turn["content"])


def _add_response_format(body: dict[str, Any], payload: dict[str, Any], route: ModelRoute) -> None:
    fmt = oai.response_format(payload)
    if fmt and fmt[0] == "json_schema" and route.structured_outputs:
        schema = _strict(fmt[1], "response_format.json_schema.schema")
        body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    # [decision] json_object is accepted and not translated: Anthropic has no schema-less JSON
    # mode, and OpenAI itself requires the messages to ask for JSON, so the instruction is
    # already in the prompt. Clients needing a guarantee should send json_schema.


def _add_metadata(body: dict[str, Any], payload: dict[str, Any]) -> None:
    user = payload.get("user")
    if isinstance(user, str) and user and not PERSONAL_USER_ID.match(user):
        body["metadata"] = {"user_id": user}


# --- Response ----------------------------------------------------------------------------


def _finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "", "stop")


def _usage(raw: dict[str, Any]) -> dict[str, Any]:
    # input_tokens excludes cached tokens; OpenAI's prompt_tokens includes them (B6).
    cache_read = raw.get("cache_read_input_tokens") or 0
    prompt = raw["input_tokens"] + (raw.get("cache_creation_input_tokens") or 0) + cache_read
    return oai.usage(prompt, raw.get("output_tokens") or 0, cached=cache_read)


# --- Stream ------------------------------------------------------------------------------


def _on_message_start(state: AnthropicStreamState, data: dict[str, Any]) -> list[dict[str, Any]]:
    state.raw_usage = dict(data["message"]["usage"])  # output_tokens here is a placeholder
    state.usage = _usage(state.raw_usage)
    state.started = True
    return [oai.role_chunk(state)]


def _on_block_start(state: AnthropicStreamState, data: dict[str, Any]) -> list[dict[str, Any]]:
    block = data["content_block"]
    if block["type"] == "tool_use" and state.schemas and state.schemas.via_tool and block["name"] == ANSWER_TOOL:
        state.answer_blocks.add(data["index"])  # its input arrives as the answer's content
        return []
    if block["type"] == "tool_use":
        # OpenAI indexes count tool calls from 0; Anthropic's index counts every block.
        index = state.tool_indexes[data["index"]] = len(state.tool_indexes)
        state.tool_names[index] = block["name"]
        return [oai.chunk(state, oai.tool_call_delta(index, call_id=block["id"], name=block["name"]))]
    if block["type"] == "text" and block.get("text"):
        return [_content_chunk(state, block["text"])]
    return []


def _on_block_delta(state: AnthropicStreamState, data: dict[str, Any]) -> list[dict[str, Any]]:
    delta = data["delta"]
    if delta["type"] == "text_delta" and delta["text"]:
        return [_content_chunk(state, delta["text"])]
    if delta["type"] == "input_json_delta" and delta["partial_json"]:
        if data["index"] in state.answer_blocks:
            return [_content_chunk(state, delta["partial_json"])]
        return [_arguments_chunk(state, state.tool_indexes[data["index"]], delta["partial_json"])]
    return []  # thinking, signature and citations deltas have no OpenAI equivalent


def _on_block_stop(state: AnthropicStreamState, data: dict[str, Any]) -> list[dict[str, Any]]:
    if data["index"] in state.answer_blocks and not state.text:
        return [_content_chunk(state, "{}")]
    index = state.tool_indexes.get(data["index"])
    if index is None or index in state.tools_with_arguments:
        return []
    # A call without arguments would leave "" for the client to parse: send "{}" [LiteLLM].
    return [_arguments_chunk(state, index, "{}")]


def _content_chunk(state: AnthropicStreamState, text: str) -> dict[str, Any]:
    if state.schemas:
        state.text.append(text)
    return oai.chunk(state, {"content": text})


def _arguments_chunk(state: AnthropicStreamState, index: int, arguments: str) -> dict[str, Any]:
    state.tools_with_arguments.add(index)
    if state.schemas:
        state.tool_arguments.setdefault(index, []).append(arguments)
    return oai.chunk(state, oai.tool_call_delta(index, arguments=arguments))


def _check_streamed_answer(state: AnthropicStreamState, finish_reason: str) -> None:
    """Ends the stream with an error event instead of a finish when the answer breaks the
    client's schema: the chunks already sent cannot be taken back, but the client is told."""
    calls = [(name, "".join(state.tool_arguments.get(index, ()))) for index, name in state.tool_names.items()]
    mismatch = state.schemas.mismatch("".join(state.text), calls, finish_reason) if state.schemas else None
    if mismatch:
        raise StreamEventError(mismatch, "schema_mismatch")


def _on_message_delta(state: AnthropicStreamState, data: dict[str, Any]) -> list[dict[str, Any]]:
    # message_delta usage is cumulative: the last one is final (B3).
    state.raw_usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
    if "input_tokens" in state.raw_usage:
        state.usage = _usage(state.raw_usage)
    stop_reason = data["delta"].get("stop_reason")
    if not stop_reason or state.finished:
        return []
    finish_reason = _finish_reason(stop_reason)
    if state.answer_blocks and not state.tool_indexes:
        finish_reason = "stop"  # the answer tool was called: to the client, a plain answer
    _check_streamed_answer(state, finish_reason)
    state.finished = True
    return [oai.finish_chunk(state, finish_reason)]


def _on_error(state: AnthropicStreamState, data: dict[str, Any]) -> list[dict[str, Any]]:
    error = data.get("error")
    if not isinstance(error, dict):
        raise StreamEventError(str(error or "Upstream stream error"))
    raise StreamEventError(error.get("message") or "Upstream stream error", error.get("type"))


_STREAM_HANDLERS = {
    "message_start": _on_message_start,
    "content_block_start": _on_block_start,
    "content_block_delta": _on_block_delta,
    "content_block_stop": _on_block_stop,
    "message_delta": _on_message_delta,
    "error": _on_error,
}

"""Google Gemini API (v1beta) upstream: OpenAI chat requests in, OpenAI responses out.

Reference: Gemini's generateContent docs (https://ai.google.dev/api/generate-content). Wire
names are camelCase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway_site.errors import InvalidRequest

from . import openai_shapes as oai
from .types import ModelRoute, SseEvent, StreamEventError, StreamState, UpstreamFailure, UpstreamRequest

# [decision] Gemini 3 signs its function calls and refuses the next turn unless the
# signature comes back (C5). Adapters are stateless, so the signature rides inside the
# OpenAI tool-call id, which clients echo verbatim (LiteLLM uses the same separator).
THOUGHT_SEPARATOR = "__thought__"
GENERATION_FIELDS = {
    "temperature": "temperature",
    "top_p": "topP",
    "n": "candidateCount",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
    "seed": "seed",
    "logprobs": "responseLogprobs",
    "top_logprobs": "logprobs",
}
TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
FILTERED_REASONS = frozenset({
    "SAFETY", "RECITATION", "LANGUAGE", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
})
# Gemini's Schema is an OpenAPI subset that refuses these JSON Schema keys [LiteLLM].
UNSUPPORTED_SCHEMA_KEYS = frozenset({"additionalProperties", "strict", "$schema"})
SUBSCHEMA_KEYS = frozenset({"items", "anyOf", "oneOf", "allOf", "not", "prefixItems"})


@dataclass
class ChoiceProgress:
    tool_calls: int = 0
    finished: bool = False


@dataclass
class GeminiStreamState(StreamState):
    choices: dict[int, ChoiceProgress] = field(default_factory=dict)  # by candidate index
    single_tool_call: bool = False  # parallel_tool_calls: false


class GeminiAdapter:
    protocol = "gemini"

    def build_request(self, payload: dict[str, Any], *, route: ModelRoute, stream: bool) -> UpstreamRequest:
        system_parts, contents = _translate_messages(payload["messages"])
        body: dict[str, Any] = {"contents": contents}
        if system_parts:
            body["systemInstruction"] = {"parts": system_parts}
        config = _generation_config(payload)
        if config:
            body["generationConfig"] = config
        _add_tools(body, payload)
        # `user` has no Gemini equivalent and is dropped.
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return UpstreamRequest(
            url=f"{route.provider.base_url.rstrip('/')}/v1beta/models/{route.upstream_model}:{method}",
            headers={"x-goog-api-key": route.provider.api_key},
            json=body,
        )

    @oai.malformed_as_value_error
    def parse_response(self, data: dict[str, Any], *, route: ModelRoute,
                       payload: dict[str, Any] | None = None) -> dict[str, Any]:
        candidates = data.get("candidates")
        single = _single_tool_call(payload)
        if candidates:
            choices = [_choice(candidate, position, single) for position, candidate in enumerate(candidates)]
        elif "promptFeedback" in data:
            # A blocked prompt is HTTP 200 without candidates (C2) [decision: content_filter].
            choices = [oai.choice(0, None, [], "content_filter")]
        else:
            raise ValueError("Gemini response without candidates or promptFeedback")
        return oai.completion(completion_id=data.get("responseId") or oai.new_completion_id(),
                              model=route.name, choices=choices, usage=_usage(data.get("usageMetadata") or {}))

    def start_stream(self, *, route: ModelRoute, completion_id: str, created: int,
                     payload: dict[str, Any] | None = None) -> StreamState:
        return GeminiStreamState(completion_id=completion_id, created=created, model=route.name,
                                 single_tool_call=_single_tool_call(payload))

    @oai.malformed_as_value_error
    def parse_stream_event(self, state: GeminiStreamState, event: SseEvent) -> list[dict[str, Any]]:
        data = orjson.loads(event.data)
        if "error" in data:
            message, status = _error_fields(data["error"])
            raise StreamEventError(message or "Upstream stream error", status)
        if data.get("usageMetadata"):
            state.usage = _usage(data["usageMetadata"])  # running totals: keep the last (C3)
        candidates = data.get("candidates")
        if not candidates:
            return _blocked_chunks(state) if (data.get("promptFeedback") or {}).get("blockReason") else []
        chunks = []
        for position, candidate in enumerate(candidates):
            chunks += _candidate_chunks(state, candidate, candidate.get("index", position))
        return chunks

    def finish_stream(self, state: GeminiStreamState) -> list[dict[str, Any]]:
        # Gemini ends by closing the connection; finishReason may never have come (C3).
        return [_finish(state, index, progress, None)
                for index, progress in state.choices.items() if not progress.finished]

    def parse_error(self, status: int, body: bytes) -> UpstreamFailure:
        data = oai.json_or_none(body)
        if isinstance(data, list) and data:
            data = data[0]  # the array form of streamGenerateContent without alt=sse
        error = data.get("error") if isinstance(data, dict) else None
        message, upstream_type = _error_fields(error)
        return UpstreamFailure(
            status=status,
            message=message or oai.error_text(status, body),
            upstream_type=upstream_type,
            # A bad key is a 400 with reason API_KEY_INVALID, not a 401 (C4).
            auth_failure=status in (401, 403) or "API_KEY_INVALID" in _error_reasons(error),
        )


def _error_fields(error: Any) -> tuple[str, str | None]:
    if not isinstance(error, dict):
        return "", None
    return str(error.get("message") or ""), error.get("status")


def _error_reasons(error: Any) -> list[str]:
    details = error.get("details") if isinstance(error, dict) else None
    return [d.get("reason") for d in details or [] if isinstance(d, dict)]


# --- Request: messages -------------------------------------------------------------------


def _translate_messages(messages: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(systemInstruction parts, contents); same-role runs merged into one content [LiteLLM]."""
    system_parts: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    tool_names: dict[str, str] = {}  # tool_call_id -> function name, from earlier assistant turns
    for i, message in enumerate(messages):
        role = oai.message_role(message, i)
        if role in oai.SYSTEM_ROLES:
            system_parts += _text_parts(oai.content_text(message.get("content"), f"messages[{i}].content"))
        elif role == "assistant":
            _append_content(contents, "model", _model_parts(message, i, tool_names))
        elif role == "tool":
            # A run of tool messages becomes one content of functionResponse parts (C5).
            _append_content(contents, "user", [_function_response(message, i, tool_names)])
        else:
            _append_content(contents, "user", _user_parts(message, i))
    return system_parts, contents


def _append_content(contents: list[dict[str, Any]], role: str, parts: list[dict[str, Any]]) -> None:
    if not parts:
        return  # a content without parts is refused
    if contents and contents[-1]["role"] == role:
        contents[-1]["parts"].extend(parts)
    else:
        contents.append({"role": role, "parts": parts})


def _text_parts(text: str) -> list[dict[str, Any]]:
    return [{"text": text}] if text else []


def _user_parts(message: dict[str, Any], index: int) -> list[dict[str, Any]]:
    return oai.user_content(message, index, text_item=lambda text: {"text": text}, image_item=_image_part)


def _image_part(url: str, param: str) -> dict[str, Any]:
    if url.startswith("data:"):
        mime_type, data = oai.parse_data_url(url, param)
        return {"inlineData": {"mimeType": mime_type, "data": data}}
    if not url.startswith(("https://", "http://", "gs://")):
        raise InvalidRequest("Image URLs must be https, gs:// or base64 data URLs", param=f"{param}.image_url.url")
    mime_type = oai.guess_media_type(url)
    if mime_type is None:
        # The adapter does not download images; fileData needs a MIME type (C5).
        raise InvalidRequest("Cannot tell the image type from the URL; use a file extension or a data: URL",
                             param=f"{param}.image_url.url")
    return {"fileData": {"mimeType": mime_type, "fileUri": url}}


def _model_parts(message: dict[str, Any], index: int, tool_names: dict[str, str]) -> list[dict[str, Any]]:
    parts = _text_parts(oai.assistant_text(message, index))
    for call_id, name, arguments in oai.assistant_tool_calls(message, index):
        tool_names[call_id] = name
        part: dict[str, Any] = {"functionCall": {"name": name, "args": arguments}}
        signature = call_id.partition(THOUGHT_SEPARATOR)[2]
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _function_response(message: dict[str, Any], index: int, tool_names: dict[str, str]) -> dict[str, Any]:
    _, name = oai.tool_result_call(message, index, tool_names)
    text = oai.content_text(message.get("content"), f"messages[{index}].content")
    # `response` must be an object; python-genai wraps plain output as {"result": ...}.
    return {"functionResponse": {"name": name, "response": {"result": text}}}


# --- Request: parameters -----------------------------------------------------------------


def _generation_config(payload: dict[str, Any]) -> dict[str, Any]:
    config = {gemini: payload[openai] for openai, gemini in GENERATION_FIELDS.items()
              if payload.get(openai) is not None}
    max_tokens = oai.requested_max_tokens(payload)
    if max_tokens is not None:
        config["maxOutputTokens"] = max_tokens
    stops = oai.stop_sequences(payload)
    if stops:
        config["stopSequences"] = stops
    fmt = oai.response_format(payload)
    if fmt and fmt[0] != "text":
        config["responseMimeType"] = "application/json"
        if fmt[1] is not None:
            config["responseJsonSchema"] = fmt[1]  # full JSON Schema, unlike responseSchema
    return config


def _add_tools(body: dict[str, Any], payload: dict[str, Any]) -> None:
    functions = oai.function_tools(payload)
    if not functions:
        return
    body["tools"] = [{"functionDeclarations": [_declaration(function) for function in functions]}]
    requested = oai.tool_choice(payload)
    if requested is not None:
        kind, name = requested
        config: dict[str, Any] = {"mode": TOOL_MODES.get(kind, "ANY")}
        if kind == "function":
            config["allowedFunctionNames"] = [name]
        body["toolConfig"] = {"functionCallingConfig": config}
    # parallel_tool_calls has no Gemini equivalent: false is honoured on the answer instead.


def _single_tool_call(payload: dict[str, Any] | None) -> bool:
    # Gemini may call several functions at once whatever it is told, so with
    # parallel_tool_calls: false the gateway keeps the first call and drops the others.
    return payload is not None and payload.get("parallel_tool_calls") is False


def _declaration(function: dict[str, Any]) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": function["name"]}
    if function.get("description"):
        declaration["description"] = function["description"]
    parameters = function.get("parameters")
    # An OBJECT schema with no properties is refused ("should be non-empty for OBJECT type").
    if isinstance(parameters, dict) and parameters.get("properties"):
        declaration["parameters"] = _gemini_schema(parameters)
    return declaration


def _gemini_schema(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_gemini_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {}
    for key, value in schema.items():
        if key in UNSUPPORTED_SCHEMA_KEYS:
            continue
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            result[key] = {name: _gemini_schema(sub) for name, sub in value.items()}
        elif key in SUBSCHEMA_KEYS:
            result[key] = _gemini_schema(value)
        else:
            result[key] = value  # enum, default, example...: data, not schemas
    return result


# --- Response ----------------------------------------------------------------------------


def _finish_reason(reason: str | None, has_tool_calls: bool) -> str:
    if has_tool_calls:
        return "tool_calls"  # Gemini says STOP after function calls too (C2)
    if reason == "MAX_TOKENS":
        return "length"
    if reason in FILTERED_REASONS or (reason or "").startswith("IMAGE_"):
        return "content_filter"
    return "stop"  # STOP, MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, unknown... (C6)


def _choice(candidate: dict[str, Any], position: int, single_tool_call: bool = False) -> dict[str, Any]:
    parts = (candidate.get("content") or {}).get("parts") or []  # no content when blocked
    texts = [part["text"] for part in parts if "text" in part and not part.get("thought")]
    calls = [_tool_call(part) for part in parts if "functionCall" in part]
    if single_tool_call:
        calls = calls[:1]
    finish_reason = _finish_reason(candidate.get("finishReason"), bool(calls))
    return oai.choice(candidate.get("index", position), oai.joined_content(texts, calls), calls, finish_reason)


def _tool_call(part: dict[str, Any]) -> dict[str, Any]:
    call = part["functionCall"]
    return oai.tool_call(_call_id(part), call["name"], call.get("args") or {})


def _call_id(part: dict[str, Any]) -> str:
    call_id = part["functionCall"].get("id") or oai.new_call_id()  # the id is often absent (C2)
    signature = part.get("thoughtSignature")
    return f"{call_id}{THOUGHT_SEPARATOR}{signature}" if signature else call_id


def _usage(meta: dict[str, Any]) -> dict[str, Any]:
    # candidatesTokenCount excludes thinking; OpenAI's completion_tokens includes it (C6).
    prompt = meta.get("promptTokenCount") or 0
    thoughts = meta.get("thoughtsTokenCount") or 0
    completion = (meta.get("candidatesTokenCount") or 0) + thoughts
    return oai.usage(prompt, completion, meta.get("totalTokenCount"),
                     cached=meta.get("cachedContentTokenCount") or 0, reasoning=thoughts)


# --- Stream ------------------------------------------------------------------------------


def _candidate_chunks(state: GeminiStreamState, candidate: dict[str, Any], index: int) -> list[dict[str, Any]]:
    chunks = []
    progress = state.choices.get(index)
    if progress is None:
        progress = state.choices[index] = ChoiceProgress()
        chunks.append(oai.role_chunk(state, index))
    for part in (candidate.get("content") or {}).get("parts") or []:
        if "functionCall" in part:
            if state.single_tool_call and progress.tool_calls:
                continue
            chunks.append(oai.chunk(state, _tool_call_delta(part, progress.tool_calls), index=index))
            progress.tool_calls += 1
        elif part.get("text") and not part.get("thought"):
            chunks.append(oai.chunk(state, {"content": part["text"]}, index=index))
    if candidate.get("finishReason") and not progress.finished:
        chunks.append(_finish(state, index, progress, candidate["finishReason"]))
    return chunks


def _tool_call_delta(part: dict[str, Any], index: int) -> dict[str, Any]:
    # A functionCall arrives whole in one event (C3): id, name and all arguments at once.
    call = oai.tool_call(_call_id(part), part["functionCall"]["name"], part["functionCall"].get("args") or {})
    return oai.tool_call_delta(index, call_id=call["id"], name=call["function"]["name"],
                               arguments=call["function"]["arguments"])


def _finish(state: GeminiStreamState, index: int, progress: ChoiceProgress, reason: str | None) -> dict[str, Any]:
    progress.finished = True
    return oai.finish_chunk(state, _finish_reason(reason, progress.tool_calls > 0), index)


def _blocked_chunks(state: GeminiStreamState) -> list[dict[str, Any]]:
    if 0 in state.choices:
        return []
    progress = state.choices[0] = ChoiceProgress()
    progress.finished = True
    return [oai.role_chunk(state), oai.finish_chunk(state, "content_filter")]

"""Fake Google Gemini generateContent / streamGenerateContent (wire formats C1-C4)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .base import Answer, Conversation, ProviderProtocol, count_words, instance_of, json_response, need, sse_data

# C4 / google.rpc status names per HTTP status.
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_OVERLOADED = {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}


def _part_texts(parts: Any) -> tuple[list[str], bool]:
    """Text the model reads in the parts, and whether they hold a functionResponse."""
    texts, has_response = [], False
    for part in parts or ():
        if "text" in part:
            texts.append(part["text"])
        response = part.get("functionResponse") or part.get("function_response")
        if response is not None:
            has_response = True
            # The tool's text is a string value in the response object ({"result": "..."}).
            texts += [v for v in (response.get("response") or {}).values() if isinstance(v, str)]
    return texts, has_response


def _user_text(parts: Any) -> str:
    return " ".join(part["text"] for part in parts or () if "text" in part)


def _first_tool(body: dict[str, Any]) -> str | None:
    for tool in body.get("tools") or ():
        declarations = tool.get("functionDeclarations") or tool.get("function_declarations")
        if declarations:
            return declarations[0].get("name")
    return None


def _forced_tool(body: dict[str, Any]) -> tuple[str | None, Any]:
    """functionCallingConfig mode ANY with one allowedFunctionNames: that function is called,
    with arguments built from its parameters' schema."""
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    names = config.get("allowedFunctionNames") or []
    if config.get("mode") != "ANY" or len(names) != 1:
        return None, None
    declarations = (d for tool in body.get("tools") or () for d in tool.get("functionDeclarations") or ())
    declared = next((d for d in declarations if d.get("name") == names[0]), {})
    schema = declared.get("parametersJsonSchema") or declared.get("parameters") or {"type": "object"}
    return names[0], instance_of(schema)


def _json_answer(body: dict[str, Any]) -> Any:
    """generationConfig responseJsonSchema (or responseSchema): the answer, built from it."""
    config = body.get("generationConfig") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    return instance_of(schema) if schema is not None else None


class GeminiProtocol(ProviderProtocol):
    name = "gemini"

    def auth_error(self, request: web.Request) -> web.Response | None:
        key = request.headers.get("x-goog-api-key") or request.query.get("key", "")
        if key and key != "bad-key":
            return None
        # Google answers a bad or missing key with 400, reason API_KEY_INVALID (C4).
        details = [{"@type": _ERROR_INFO, "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]
        return self.error_response(400, "API key not valid. Please pass a valid API key.", details=details)

    def conversation(self, body: dict[str, Any], model: str) -> Conversation:
        contents = body.get("contents")
        need(
            isinstance(contents, list) and contents,
            "* GenerateContentRequest.contents: contents is not specified",
        )
        system = body.get("systemInstruction") or body.get("system_instruction") or {}
        texts, _ = _part_texts(system.get("parts"))
        has_response, last_user = False, ""
        forced_tool, forced_input = _forced_tool(body)
        for content in contents:
            role = content.get("role")
            need(role in (None, "user", "model"), "Please use a valid role: user, model.")
            content_texts, has_response = _part_texts(content.get("parts"))
            texts += content_texts
            if role != "model":
                last_user = _user_text(content.get("parts")) or last_user
        return Conversation(
            model=model,
            last_user_text=last_user,
            prompt_tokens=count_words(texts),
            tool_name=_first_tool(body),
            ends_with_tool_result=has_response,
            forced_tool=forced_tool,
            forced_input=forced_input,
            json_answer=_json_answer(body),
        )

    def error_response(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> web.Response:
        error: dict[str, Any] = {"code": status, "message": message, "status": _status_name(status)}
        if details:
            error["details"] = details
        return json_response({"error": error}, status, headers)

    def completion(self, conv: Conversation, answer: Answer) -> web.Response:
        return json_response(_chunk(conv, answer, _parts(answer), answer.completion_tokens, True))

    def stream_events(self, conv: Conversation, answer: Answer) -> list[bytes]:
        if answer.tool_name:
            # C3: a functionCall arrives whole in one chunk.
            return [sse_data(_chunk(conv, answer, _parts(answer), answer.completion_tokens, True))]
        pieces = answer.pieces()
        last = len(pieces) - 1
        # usageMetadata repeats with running totals; finishReason rides on the last chunk.
        return [
            sse_data(_chunk(conv, answer, [{"text": piece}], n + 1, n == last))
            for n, piece in enumerate(pieces)
        ]

    def stream_error_event(self) -> bytes:
        return sse_data({"error": _OVERLOADED})


def _status_name(status: int) -> str:
    if status in _STATUS_NAMES:
        return _STATUS_NAMES[status]
    return "INTERNAL" if status >= 500 else "FAILED_PRECONDITION"


def _parts(answer: Answer) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = [{"text": answer.text}] if answer.text else []
    if answer.tool_name:
        # functionCall.id is often absent upstream (C2), so the fake leaves it out.
        args = {"city": "Oslo"} if answer.tool_input is None else answer.tool_input
        parts += [{"functionCall": {"name": answer.tool_name, "args": args}}] * answer.tool_calls
    return parts


def _chunk(
    conv: Conversation, answer: Answer, parts: list[dict[str, Any]], completion: int, final: bool
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if final:
        candidate["finishReason"] = "STOP"  # also for function calls (C2)
    usage = {
        "promptTokenCount": conv.prompt_tokens,
        "candidatesTokenCount": completion,
        "totalTokenCount": conv.prompt_tokens + completion,
    }
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": conv.model,
        "responseId": f"fake{answer.request_number}",
    }

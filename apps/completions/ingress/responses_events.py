"""A chat-completions stream retold as the Responses API's events.

`response.created`, `response.in_progress`, then per output item `response.output_item.added`;
text: `response.content_part.added`, `response.output_text.delta`…, `response.output_text.done`,
`response.content_part.done`; a tool call: `response.function_call_arguments.delta`…,
`.done`; then `response.output_item.done`; finally `response.completed` (or `.incomplete`,
or `response.failed` when the upstream failed mid-stream). Every event carries its
`sequence_number`, and is sent as `event: <type>` + `data: <json>` like OpenAI sends it.
Reference: https://platform.openai.com/docs/api-reference/responses-streaming
"""

from __future__ import annotations

from typing import Any

import orjson

from apps.completions.ingress.responses import (
    ResponsesAsk,
    function_call_item,
    message_item,
    response_object,
)


def encode(event: dict[str, Any]) -> bytes:
    return b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class ResponsesStreamWriter:
    """Fed chat chunks (dicts) in order; returns the bytes to send for each."""

    def __init__(self, ask: ResponsesAsk, *, response_id: str, created_at: int, model: str) -> None:
        self.ask, self.response_id, self.created_at, self.model = ask, response_id, created_at, model
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self.text_index: int | None = None  # output index of the open message item
        self.text: list[str] = []
        self.calls: dict[int, int] = {}  # chat tool-call index → output index (open ones)
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.final: dict[str, Any] | None = None  # the response once complete

    def _event(self, kind: str, **fields: Any) -> bytes:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return encode(event)

    def _response(self, status: str, **extra: Any) -> dict[str, Any]:
        return response_object(self.ask, response_id=self.response_id, created_at=self.created_at, model=self.model,
                               status=status, output=self.output, **extra)

    def start(self) -> bytes:
        snapshot = self._response("in_progress")
        return self._event("response.created", response=snapshot) + self._event("response.in_progress", response=snapshot)

    def chunk(self, chunk: dict[str, Any]) -> bytes:
        self.model = chunk.get("model") or self.model
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        out = b""
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("content"):
                out += self._text(delta["content"])
            for call in delta.get("tool_calls") or ():
                out += self._tool_call(call)
            self.finish_reason = choice.get("finish_reason") or self.finish_reason
        return out

    def _text(self, text: str) -> bytes:
        out = b""
        if self.text_index is None:
            out += self._close_calls()
            self.text_index, self.text = len(self.output), []
            item = message_item(f"msg_{self.response_id[5:]}_{self.text_index}", [], status="in_progress")
            self.output.append(item)
            out += self._event("response.output_item.added", output_index=self.text_index, item=item)
            out += self._event("response.content_part.added", item_id=item["id"], output_index=self.text_index,
                               content_index=0, part=_text_part(""))
        self.text.append(text)
        return out + self._event("response.output_text.delta", item_id=self.output[self.text_index]["id"],
                                 output_index=self.text_index, content_index=0, delta=text, logprobs=[])

    def _tool_call(self, call: dict[str, Any]) -> bytes:
        out = b""
        index = call.get("index", 0)
        function = call.get("function") or {}
        if index not in self.calls:
            out += self._close_text()
            self.calls[index] = len(self.output)
            item = function_call_item(f"fc_{self.response_id[5:]}_{len(self.output)}", call.get("id") or "",
                                      function.get("name") or "", "", status="in_progress")
            self.output.append(item)
            out += self._event("response.output_item.added", output_index=self.calls[index], item=item)
        item = self.output[self.calls[index]]
        if function.get("arguments"):
            item["arguments"] += function["arguments"]
            out += self._event("response.function_call_arguments.delta", item_id=item["id"],
                               output_index=self.calls[index], delta=function["arguments"])
        return out

    def _close_text(self) -> bytes:
        if self.text_index is None:
            return b""
        index, self.text_index = self.text_index, None
        item = self.output[index]
        text = "".join(self.text)
        part = _text_part(text)
        item["content"], item["status"] = [part], "completed"
        return (
            self._event("response.output_text.done", item_id=item["id"], output_index=index, content_index=0, text=text, logprobs=[])
            + self._event("response.content_part.done", item_id=item["id"], output_index=index, content_index=0, part=part)
            + self._event("response.output_item.done", output_index=index, item=item)
        )

    def _close_calls(self) -> bytes:
        out = b""
        for index in self.calls.values():
            item = self.output[index]
            item["status"] = "completed"
            out += self._event("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                               name=item["name"], arguments=item["arguments"])
            out += self._event("response.output_item.done", output_index=index, item=item)
        self.calls = {}
        return out

    def complete(self) -> bytes:
        out = self._close_text() + self._close_calls()
        response = self.final = self._response("completed", usage=self.usage, finish_reason=self.finish_reason)
        return out + self._event(f"response.{response['status']}", response=response)

    def failed(self, error: dict[str, Any]) -> bytes:
        """The upstream failed after the stream had started (the contract's error body)."""
        error = {"code": error.get("code") or "provider_error", "message": error.get("message") or "The upstream provider failed"}
        return self._event("response.failed", response=self._response("failed", usage=self.usage, error=error))


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

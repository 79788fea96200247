"""Serving POST /v1/responses through the chat path, every provider alike.

One path for every model, OpenAI's included (no passthrough to OpenAI's own
/v1/responses): the request is translated into a chat request (responses.py) at
admission, so it is authenticated, counted, cached, retried, falls back and is recorded
exactly like a chat completion; the answer is translated back. An earlier conversation
(`previous_response_id`) is read only when asked for, after admission; the answer is kept
for the next turn (apps/responses/store.py) unless the request said `store: false`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from apps.completions.ingress.responses import (
    ResponsesAsk,
    chat_payload,
    read_responses_request,
    response_from_completion,
    response_id_for,
)
from apps.completions.ingress.responses_events import ResponsesStreamWriter
from apps.completions.outcome import Outcome
from apps.completions.services import ChatResponse, achat_completion
from apps.completions.validation import (
    ChatRequest,
    chat_request_from_payload,
    check_content_type,
    json_object,
)
from apps.keys.registry import KeyInfo
from apps.responses.store import aresponse_conversation, response_store
from gateway_site.errors import NotFound
from gateway_site.front_door import ApiRequest
from gateway_site.gateway_config import get_config

_SKIP_CACHE = {"cache-control": "no-store"}


class ResponsesParse:
    """admit()'s parse step: reads the Responses request, keeps it in `ask`, and returns
    the chat request it becomes. A request continuing a stored conversation is re-made once
    that is read (`awith_history`); until then it plans no cache, so no lookup is wasted."""

    def __init__(self, request: ApiRequest) -> None:
        self.request = request
        self.ask: ResponsesAsk | None = None

    def __call__(self, key: KeyInfo) -> ChatRequest:
        check_content_type(self.request.headers.get("content-type", ""))
        self.ask = read_responses_request(json_object(self.request.body))
        headers = _SKIP_CACHE if self.ask.previous_response_id else self.request.headers
        return self.chat_request(key, history=[], headers=headers)

    def chat_request(self, key: KeyInfo, *, history: list[dict[str, Any]], headers) -> ChatRequest:
        return chat_request_from_payload(
            chat_payload(self.ask, history), key=key, config=get_config(), request_id=self.request.request_id, headers=headers,
        )


async def aresponse_create(parse: ResponsesParse, chat: ChatRequest, outcome: Outcome) -> ChatResponse:
    ask = parse.ask
    history: list[dict[str, Any]] = []
    if ask.previous_response_id:
        conversation = await aresponse_conversation(response_id=ask.previous_response_id, key_id=chat.key.id)
        if conversation is None:
            raise NotFound(f"Previous response with id '{ask.previous_response_id}' not found.", param="previous_response_id")
        history = conversation.items
        chat = parse.chat_request(chat.key, history=history, headers=parse.request.headers)
        outcome.payload = chat.payload
    response_id = response_id_for(chat.request_id)
    result = await achat_completion(chat, outcome)
    remember = _remembering(ask, chat, response_id, [*history, *ask.input_items])
    if result.stream is not None:
        writer = ResponsesStreamWriter(ask, response_id=response_id, created_at=int(time.time()), model=chat.route.name)
        return ChatResponse(headers=result.headers, stream=_retold(result.stream, writer, remember))
    response = response_from_completion(ask, orjson.loads(result.body), response_id=response_id)
    remember(response)
    return ChatResponse(headers=result.headers, body=orjson.dumps(response))


def _remembering(ask: ResponsesAsk, chat: ChatRequest, response_id: str, input_items: list) -> Callable[[dict], None]:
    def remember(response: dict[str, Any]) -> None:
        if ask.store and response["status"] in ("completed", "incomplete"):
            response_store(response_id=response_id, key_id=chat.key.id, model=chat.route.name,
                           input_items=input_items, output_items=response["output"])

    return remember


async def _retold(chat_stream: AsyncIterator[bytes], writer: ResponsesStreamWriter,
                  remember: Callable[[dict], None]) -> AsyncIterator[bytes]:
    """The chat stream's events (`data: {...}` blocks, `data: [DONE]` last) as Responses
    events. Closing this closes the chat stream, which records the outcome and stops the
    upstream."""
    opening = writer.start()
    try:
        async for piece in chat_stream:
            out = opening
            opening = b""
            for block in piece.split(b"\n\n"):
                if not block.startswith(b"data: "):
                    continue
                data = block[6:]
                if data == b"[DONE]":
                    out += writer.complete()
                    remember(writer.final)
                    continue
                event = orjson.loads(data)
                if "error" in event and "choices" not in event:
                    out += writer.failed(event["error"])
                else:
                    out += writer.chunk(event)
            if out:
                yield out
    finally:
        aclose = getattr(chat_stream, "aclose", None)
        if aclose is not None:
            await aclose()

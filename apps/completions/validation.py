"""Checking a chat-completions request before any work is done on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from apps.cache.policy import CachePlan, CacheQuery
from apps.cache.services import cache_plan
from apps.completions.providers.types import ModelRoute
from apps.keys.registry import KeyInfo
from gateway_site.errors import InvalidRequest, ModelNotFound, PermissionDenied
from gateway_site.gateway_config import GatewayConfig

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_NUMBER_RANGES = {
    "temperature": (0, 2),
    "top_p": (0, 1),
    "presence_penalty": (-2, 2),
    "frequency_penalty": (-2, 2),
}
_POSITIVE_INTS = ("max_tokens", "max_completion_tokens", "n")


@dataclass
class ChatRequest:
    payload: dict[str, Any]
    route: ModelRoute
    key: KeyInfo
    request_id: str
    stream: bool
    include_usage: bool
    config: GatewayConfig  # the config this request started on; a reload does not change it
    cache: CachePlan  # which caches apply; made once, used by the lookup and the store

    @property
    def completion_id(self) -> str:
        """The id of the answer the client gets, unless an OpenAI upstream's own passes through."""
        return f"chatcmpl-{self.request_id[4:]}"


def parse_chat_request(
    body: bytes, *, key: KeyInfo, config: GatewayConfig, request_id: str, cache_control: str = ""
) -> ChatRequest:
    payload = json_object(body)
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a string", param="model")
    _check_messages(payload.get("messages"))
    _check_numbers(payload)
    stream = _optional_bool(payload, "stream")
    stream_options = payload.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise InvalidRequest("'stream_options' must be an object", param="stream_options")
    route = config.models.get(model)
    if route is None:
        raise ModelNotFound(f"The model '{model}' does not exist or is not served by this gateway", param="model")
    if not key.may_use_model(model):
        raise PermissionDenied(f"This API key may not use the model '{model}'", param="model")
    directives = {part.strip().lower() for part in cache_control.split(",")}
    query = CacheQuery(
        payload=payload, model=route.name, namespace=key.namespace,
        read=not ({"no-cache", "no-store"} & directives), write="no-store" not in directives,
    )
    return ChatRequest(
        payload=payload,
        route=route,
        key=key,
        request_id=request_id,
        stream=stream,
        include_usage=bool(stream and stream_options and stream_options.get("include_usage")),
        config=config,
        cache=cache_plan(query, config.cache),
    )


def json_object(body: bytes) -> dict[str, Any]:
    if not body:
        raise InvalidRequest("The request body is empty; send a JSON object")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("The request body must be a JSON object")
    return payload


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequest(f"messages[{index}] must be an object", param=f"messages[{index}]")
        if message.get("role") not in ROLES:
            raise InvalidRequest(
                f"messages[{index}].role must be one of {', '.join(sorted(ROLES))}", param=f"messages[{index}].role"
            )
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise InvalidRequest(
                f"messages[{index}].content must be a string or an array of parts", param=f"messages[{index}].content"
            )
        if content is None and message["role"] != "assistant":
            raise InvalidRequest(f"messages[{index}].content is required", param=f"messages[{index}].content")


def _check_numbers(payload: dict[str, Any]) -> None:
    for name, (low, high) in _NUMBER_RANGES.items():
        value = payload.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise InvalidRequest(f"'{name}' must be a number between {low} and {high}", param=name)
    for name in _POSITIVE_INTS:
        value = payload.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InvalidRequest(f"'{name}' must be a positive integer", param=name)


def _optional_bool(payload: dict[str, Any], name: str) -> bool:
    value = payload.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest(f"'{name}' must be a boolean", param=name)
    return value

"""Checking a chat-completions request before any work is done on it: a JSON body, valid
under OpenAI's request schema (request_schema.py), for every provider alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings

from apps.cache.policy import CachePlan, CacheQuery
from apps.cache.services import cache_plan
from apps.completions.providers.types import ModelRoute
from apps.completions.request_schema import check_chat_schema
from apps.keys.registry import KeyInfo
from gateway_site.errors import InvalidRequest, ModelNotFound, PermissionDenied
from gateway_site.gateway_config import GatewayConfig

# Not in OpenAI's schema, which has no lower bound for them: the gateway's own rule.
_POSITIVE_INTS = ("max_tokens", "max_completion_tokens")


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
    timeout: float  # seconds from arrival to an answer or an error, retries and fallbacks included

    @property
    def completion_id(self) -> str:
        """The id of the answer the client gets, unless an OpenAI upstream's own passes through."""
        return f"chatcmpl-{self.request_id[4:]}"


def parse_chat_request(
    body: bytes, *, key: KeyInfo, config: GatewayConfig, request_id: str, headers: Mapping[str, str] | None = None,
) -> ChatRequest:
    """`headers` (names in lower case) may carry Content-Type, Cache-Control and the OpenAI
    SDK's X-Stainless-Timeout."""
    headers = headers or {}
    check_content_type(headers.get("content-type", ""))
    return chat_request_from_payload(json_object(body), key=key, config=config, request_id=request_id, headers=headers)


def chat_request_from_payload(
    payload: dict[str, Any], *, key: KeyInfo, config: GatewayConfig, request_id: str, headers: Mapping[str, str],
) -> ChatRequest:
    """The checks of `parse_chat_request` past reading the body: for an ingress that
    translates its own request into a chat payload (/v1/responses)."""
    check_chat_schema(payload)
    model = payload["model"]
    if not model:
        raise InvalidRequest("Invalid 'model': expected a non-empty string", param="model")
    _check_positive_ints(payload)
    stream = bool(payload.get("stream"))
    stream_options = payload.get("stream_options")
    route = model_route(model, key=key, config=config)
    return ChatRequest(
        payload=payload,
        route=route,
        key=key,
        request_id=request_id,
        stream=stream,
        include_usage=bool(stream and stream_options and stream_options.get("include_usage")),
        config=config,
        cache=cache_plan(cache_query(payload, route=route, key=key, cache_control=headers.get("cache-control", "")), config.cache),
        timeout=request_timeout(headers.get("x-stainless-timeout", "")),
    )


def request_timeout(client_timeout: str) -> float:
    """GATEWAY_REQUEST_TIMEOUT, or the client's own timeout when it is shorter (the OpenAI
    SDKs say theirs in X-Stainless-Timeout, seconds): past it nobody waits for the answer."""
    limit = settings.GATEWAY_REQUEST_TIMEOUT
    try:
        client = float(client_timeout)
    except ValueError:
        return limit
    return min(limit, client) if client > 0 else limit


def model_route(model: str, *, key: KeyInfo, config: GatewayConfig) -> ModelRoute:
    """The route of a model this key may use, else the 400 / 403 saying why not."""
    route = config.models.get(model)
    if route is None:
        raise ModelNotFound(f"The model '{model}' does not exist or is not served by this gateway", param="model")
    if not key.may_use_model(model):
        raise PermissionDenied(f"This API key may not use the model '{model}'", param="model")
    return route


def cache_query(payload: dict[str, Any], *, route: ModelRoute, key: KeyInfo, cache_control: str) -> CacheQuery:
    directives = {part.strip().lower() for part in cache_control.split(",")}
    return CacheQuery(
        payload=payload, model=route.name, namespace=key.namespace,
        read=not ({"no-cache", "no-store"} & directives), write="no-store" not in directives,
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


def check_content_type(content_type: str) -> None:
    """JSON, or no Content-Type at all (hand-written clients often send none); anything
    else (a form, text/plain) is refused like OpenAI refuses it, with a 400."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise InvalidRequest(
            f"Unsupported Content-Type {media_type!r}; send the body as JSON with 'Content-Type: application/json'"
        )


def _check_positive_ints(payload: dict[str, Any]) -> None:
    for name in _POSITIVE_INTS:
        value = payload.get(name)
        if value is not None and value < 1:
            raise InvalidRequest(f"Invalid '{name}': expected a value >= 1, got {value}", param=name)

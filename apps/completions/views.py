"""The OpenAI-compatible endpoints, kept thin. They are served by gateway_site.api_asgi,
not by Django's handler (see there why): they take an ApiRequest, return an ApiResponse."""

from __future__ import annotations

import orjson

from apps.cache.services import acache_prefetch
from apps.completions.services import achat_completion
from apps.completions.validation import parse_chat_request
from apps.keys.authentication import aauthenticate
from apps.keys.limiter import arate_limit_check
from gateway_site.api_asgi import ApiRequest, ApiResponse
from gateway_site.errors import GatewayError, MethodNotAllowed, NotFound
from gateway_site.gateway_config import get_config


def _model_object(route) -> dict:
    return {"id": route.name, "object": "model", "created": route.created, "owned_by": route.provider.name}


async def models_list(request: ApiRequest) -> ApiResponse:
    if request.method != "GET":
        raise MethodNotAllowed(f"Method {request.method} not allowed")
    key = await aauthenticate(request)
    data = [_model_object(route) for route in get_config().models.values() if key.may_use_model(route.name)]
    return ApiResponse(body=orjson.dumps({"object": "list", "data": data}))


async def model_detail(request: ApiRequest, model_id: str) -> ApiResponse:
    if request.method != "GET":
        raise MethodNotAllowed(f"Method {request.method} not allowed")
    key = await aauthenticate(request)
    route = get_config().models.get(model_id)
    if route is None or not key.may_use_model(model_id):
        # 404 like OpenAI (the SDK raises NotFoundError); a forbidden model is not revealed.
        raise NotFound(f"The model '{model_id}' does not exist", param="model")
    return ApiResponse(body=orjson.dumps(_model_object(route)))


async def chat_completions(request: ApiRequest) -> ApiResponse:
    if request.method != "POST":
        raise MethodNotAllowed(f"Method {request.method} not allowed; use POST")
    key = await aauthenticate(request)
    try:
        chat = parse_chat_request(
            request.body, key=key, config=get_config(), request_id=request.request_id,
            cache_control=request.headers.get("cache-control", ""),
        )
    except GatewayError:
        await arate_limit_check(key, request_id=request.request_id)  # a bad request counts too; 429 first
        raise
    await acache_prefetch(chat)  # the cache's Redis GET shares the rate limiter's round trip
    limit_headers = await arate_limit_check(key, request_id=request.request_id)
    result = await achat_completion(chat)
    headers = {**limit_headers, **result.headers}
    if result.stream is not None:
        headers["Cache-Control"] = "no-cache"
        headers["X-Accel-Buffering"] = "no"  # proxies such as nginx must not buffer the stream
        return ApiResponse(stream=result.stream, headers=headers, content_type="text/event-stream")
    return ApiResponse(body=result.body, headers=headers)

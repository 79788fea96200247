"""The OpenAI-compatible endpoints, kept thin: admit, serve, shape the response. The front
door (gateway_site/front_door.py) serves them outside Django's handler and records each
admitted request's outcome once it is answered."""

from __future__ import annotations

import orjson

from apps.completions.admission import admit
from apps.completions.ingress.responses_service import ResponsesParse, aresponse_create
from apps.completions.messages import acount_tokens, amessages, parse_messages_request
from apps.completions.services import ChatResponse, achat_completion
from apps.completions.validation import parse_chat_request
from gateway_site.errors import MethodNotAllowed, NotFound
from gateway_site.front_door import ApiRequest, ApiResponse
from gateway_site.gateway_config import get_config


def _model_object(route) -> dict:
    return {"id": route.name, "object": "model", "created": route.created, "owned_by": route.provider.name}


def _only(request: ApiRequest, method: str) -> None:
    if request.method != method:
        raise MethodNotAllowed(f"Method {request.method} not allowed; use {method}", headers={"Allow": method})


async def models_list(request: ApiRequest) -> ApiResponse:
    _only(request, "GET")
    key = (await admit(request, count=False)).key
    config = get_config()
    routes = [*config.models.values(), *config.embedding_models.values()]
    data = [_model_object(route) for route in routes if key.may_use_model(route.name)]
    return ApiResponse(body=orjson.dumps({"object": "list", "data": data}))


async def model_detail(request: ApiRequest, model_id: str) -> ApiResponse:
    _only(request, "GET")
    key = (await admit(request, count=False)).key
    config = get_config()
    route = config.models.get(model_id) or config.embedding_models.get(model_id)
    if route is None or not key.may_use_model(model_id):
        # 404 like OpenAI (the SDK raises NotFoundError); a forbidden model is not revealed.
        raise NotFound(f"The model '{model_id}' does not exist", param="model")
    return ApiResponse(body=orjson.dumps(_model_object(route)))


async def chat_completions(request: ApiRequest) -> ApiResponse:
    _only(request, "POST")
    admission = await admit(request, parse=lambda key: parse_chat_request(
        request.body, key=key, config=get_config(), request_id=request.request_id, headers=request.headers,
    ))
    return _served(await achat_completion(admission.chat, admission.outcome))


async def messages(request: ApiRequest) -> ApiResponse:
    """The Anthropic Messages API (apps/completions/messages.py); errors in its shape."""
    request.response_headers["request-id"] = request.request_id  # Anthropic's name for it
    _only(request, "POST")
    admission = await admit(request, parse=lambda key: parse_messages_request(
        request.body, key=key, config=get_config(), request_id=request.request_id, headers=request.headers,
    ))
    return _served(await amessages(admission.chat, admission.outcome))


async def count_tokens(request: ApiRequest) -> ApiResponse:
    request.response_headers["request-id"] = request.request_id
    _only(request, "POST")
    admission = await admit(request, parse=lambda key: parse_messages_request(
        request.body, key=key, config=get_config(), request_id=request.request_id, headers=request.headers,
        count_tokens=True,
    ))
    tokens, estimated = await acount_tokens(admission.chat)
    headers = {"X-Gateway-Tokens-Estimated": "true"} if estimated else {}
    return ApiResponse(body=orjson.dumps({"input_tokens": tokens}), headers=headers)


async def responses(request: ApiRequest) -> ApiResponse:
    """OpenAI's Responses API, served through the chat path (ingress/responses_service.py)."""
    _only(request, "POST")
    parse = ResponsesParse(request)
    admission = await admit(request, parse=parse)
    return _served(await aresponse_create(parse, admission.chat, admission.outcome))


def _served(result: ChatResponse) -> ApiResponse:
    if result.stream is not None:
        headers = {**result.headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # nginx must not buffer
        return ApiResponse(stream=result.stream, headers=headers, content_type="text/event-stream")
    return ApiResponse(body=result.body, headers=result.headers)

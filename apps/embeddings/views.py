"""`POST /v1/embeddings`, kept thin like the chat endpoint: admit, serve, respond. The
front door records the request's outcome once it is answered."""

from __future__ import annotations

from apps.completions.admission import admit
from apps.embeddings.services import aembeddings_create
from apps.embeddings.validation import parse_embedding_request
from gateway_site.errors import MethodNotAllowed
from gateway_site.front_door import ApiRequest, ApiResponse
from gateway_site.gateway_config import get_config


async def embeddings(request: ApiRequest) -> ApiResponse:
    if request.method != "POST":
        raise MethodNotAllowed(f"Method {request.method} not allowed; use POST")
    admission = await admit(request, parse=lambda key: parse_embedding_request(
        request.body, key=key, config=get_config(), cache_control=request.headers.get("cache-control", ""),
    ))
    result = await aembeddings_create(admission.chat, admission.outcome)
    return ApiResponse(body=result.body, headers=result.headers)

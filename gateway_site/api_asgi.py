"""The /v1/ API, served straight from ASGI rather than through Django's request handling.

Why: a cache hit is nearly all overhead, and Django's handling was the largest share of
it. Building an HttpRequest and its META, resolving the URL, the middleware chain, the
request_started/finished signals and an HttpResponse with its header checks took about
0.2 ms of the 0.7 ms a hit cost (py-spy), where the server itself needs 0.04 ms. The
OpenAI-compatible endpoints use nothing that buys: no sessions, no CSRF, no templates,
no ORM on the event loop's thread. So the ASGI application hands /v1/ to this router,
which does for it what ApiMiddleware does for every other path: a request id, the body
size limit, errors in the contract's shape, rate-limit headers and request metrics.
The admin console, the admin API, health, stats and the docs stay with Django.

A client that hangs up ends a stream at once (its upstream connection is closed); a
non-streamed request runs to its end, because its answer is paid for either way: it is
recorded and cached, and asking again is then a cache hit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings

from apps.keys.limiter import arate_limit_peek
from apps.stats import metrics
from gateway_site.errors import GatewayError, InternalError, NotFound, PayloadTooLarge, render_error_body
from gateway_site.request_ids import new_request_id

logger = logging.getLogger("gateway.errors")


@dataclass(slots=True)
class ApiRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    request_id: str
    body: bytes = b""
    api_key: Any = None  # the KeyInfo, once authenticated: its responses get rate-limit headers


@dataclass(slots=True)
class ApiResponse:
    """A JSON `body`, or a `stream` of server-sent events."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    stream: AsyncIterator[bytes] | None = None
    content_type: str = "application/json"


View = Callable[..., Awaitable[ApiResponse]]


@dataclass(frozen=True)
class ApiRoute:
    """`pattern` is written the way Django writes it (the metrics label and the docs use
    it); a trailing `<path:name>` takes the rest of the path, which must not be empty."""

    pattern: str
    view: View

    def match(self, path: str) -> dict[str, str] | None:
        prefix, bracket, rest = self.pattern.partition("<path:")
        if not bracket:
            return {} if path == self.pattern else None
        if path.startswith(prefix) and len(path) > len(prefix):
            return {rest.rstrip(">"): path[len(prefix):]}
        return None


class _ClientGone(Exception):
    """The client hung up before its request body arrived."""


_api_routes: list[ApiRoute] = []


def _routes() -> list[ApiRoute]:
    if not _api_routes:
        from apps.completions.urls import api_routes  # the views import models: only once Django is set up

        _api_routes.extend(api_routes)
    return _api_routes


async def serve_api(scope: dict, receive, send) -> None:
    started = time.perf_counter()
    request = ApiRequest(
        method=scope["method"],
        path=scope["path"],
        headers={name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]},
        request_id=new_request_id(),
    )
    route, arguments = _resolve(request.path)
    try:
        request.body = await _read_body(receive, request.headers)
        if route is None:
            raise NotFound()
        response = await route.view(request, **arguments)
    except _ClientGone:
        return
    except Exception as exc:  # noqa: BLE001 - every failure becomes a contract error, never a trace
        response = _error_response(exc, request)
    if request.api_key is not None and "X-RateLimit-Limit" not in response.headers:
        response.headers.update(await arate_limit_peek(request.api_key))
    response.headers["X-Request-ID"] = request.request_id
    _observe(request, route, response.status, started)
    if response.stream is None:
        await send({"type": "http.response.start", "status": response.status, "headers": _header_list(response)})
        await send({"type": "http.response.body", "body": response.body})
    else:
        await _send_stream(response, receive, send)


def _resolve(path: str) -> tuple[ApiRoute | None, dict[str, str]]:
    for route in _routes():
        arguments = route.match(path)
        if arguments is not None:
            return route, arguments
    return None, {}


async def _read_body(receive, headers: dict[str, str]) -> bytes:
    limit = settings.GATEWAY_MAX_BODY_BYTES
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)  # refused before reading a byte of it
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body"):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes")


def _error_response(exc: Exception, request: ApiRequest) -> ApiResponse:
    if not isinstance(exc, GatewayError):
        logger.exception("unhandled error request_id=%s path=%s", request.request_id, request.path)
        exc = InternalError()
    body = orjson.dumps(render_error_body(exc, request.request_id))
    return ApiResponse(body=body, status=exc.status, headers=dict(exc.headers))


def _observe(request: ApiRequest, route: ApiRoute | None, status: int, started: float) -> None:
    metrics.observe_request(request.method, route.pattern if route is not None else "unmatched", status, started)


def _header_list(response: ApiResponse) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", response.content_type.encode("latin-1"))]
    if response.stream is None:
        headers.append((b"content-length", str(len(response.body)).encode("latin-1")))
    headers.extend((name.lower().encode("latin-1"), str(value).encode("latin-1")) for name, value in response.headers.items())
    return headers


async def _send_stream(response: ApiResponse, receive, send) -> None:
    """Relays the stream until it ends or the client hangs up; a hang-up cancels the relay,
    which closes the upstream connection (the stream's own cleanup records the usage)."""
    stream = response.stream

    async def relay() -> None:
        await send({"type": "http.response.start", "status": response.status, "headers": _header_list(response)})
        async for chunk in stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    relaying = asyncio.ensure_future(relay())
    watching = asyncio.ensure_future(_until_disconnect(receive))
    try:
        await asyncio.wait((relaying, watching), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (relaying, watching):
            if not task.done():
                task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:  # noqa: BLE001 - the status line is sent: all that is left is the log
                logger.exception("stream relay failed path=/v1/chat/completions")
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


async def _until_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass

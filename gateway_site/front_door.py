"""The gateway's one front door: every HTTP request passes here before anything else.

For every path it gives the request an id (echoed as `X-Request-ID`), reads the body with
a hard size limit (chunked or not, before anything is stored: 413 past
GATEWAY_MAX_BODY_BYTES), renders errors in the contract's shape (`contract_error`) and
counts the request in the metrics (`observe`). Then:

- /v1/ goes to the API routes handed in by gateway_site/asgi.py, served straight from
  ASGI. Why not Django's handler: a cache hit is nearly all overhead, and building an
  HttpRequest and its META, resolving the URL, the middleware chain, the signals and an
  HttpResponse took about 0.2 ms of the 0.7 ms a hit cost (py-spy); the OpenAI-compatible
  endpoints use none of it (no sessions, CSRF, templates, ORM on the event loop).
- everything else (admin console, admin API, health, stats, docs) goes to Django, with
  the body already read and checked.

This module is a leaf: it imports no app. Routes, the metrics callback and the lifespan
hooks are handed to it, so nothing here points back up.

A view may set `request.on_finish`: the front door calls it exactly once, after the
response is sent or abandoned, with the final status (499 if the client hung up). The API
uses it to record each request's outcome from this one `finally`. A client that hangs up
ends a stream at once (its upstream connection is closed); a non-streamed request runs to
its end, because its answer is paid for either way: it is recorded and cached.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis
from django.db import DatabaseError

from gateway_site import runtime, tracing
from gateway_site.errors import (
    GatewayError,
    InternalError,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    render_error_body,
)
from gateway_site.quiet_log import QuietLog
from gateway_site.request_ids import new_request_id

logger = logging.getLogger("gateway.errors")

CLIENT_CLOSED = 499  # nginx's convention for "the client went away"
REQUEST_ID_KEY = "gateway.request_id"  # where Django's side finds the id in the ASGI scope
ENDPOINT_KEY = "gateway.endpoint"  # the route pattern Django resolved, for the metrics label


@dataclass(slots=True)
class ApiRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    request_id: str
    started: float  # time.perf_counter() when the request arrived
    body: bytes = b""
    # Added to the response whatever it turns out to be (rate-limit headers, for one).
    response_headers: dict[str, str] = field(default_factory=dict)
    on_finish: Callable[[int, GatewayError | None], None] | None = None
    # The API's own fields for the access log (key prefix, model), asked for only when it is on.
    describe: Callable[[], dict[str, Any]] | None = None


@dataclass(slots=True)
class ApiResponse:
    """A JSON `body`, or a `stream` of server-sent events."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    stream: AsyncIterator[bytes] | None = None
    content_type: str = "application/json"


View = Callable[..., Awaitable[ApiResponse]]
Observe = Callable[[str, str, int, float], None]  # method, endpoint pattern, status, started
# request id, method, path, status, started, the API's describe (gateway_site/access_log.py)
AccessLog = Callable[[str, str, str, int, float, Callable[[], dict[str, Any]] | None], None]


@dataclass(frozen=True)
class ApiRoute:
    """`pattern` is written the way Django writes it (the metrics label and the docs use
    it); a trailing `<path:name>` takes the rest of the path, which must not be empty."""

    pattern: str
    view: View
    # The body of an error on this route, when not the contract's (e.g. /v1/messages
    # answers in Anthropic's shape): (error, request id) -> (status, body).
    render_error: Callable[[GatewayError, str], tuple[int, bytes]] | None = None

    def match(self, path: str) -> dict[str, str] | None:
        prefix, bracket, rest = self.pattern.partition("<path:")
        if not bracket:
            return {} if path == self.pattern else None
        if path.startswith(prefix) and len(path) > len(prefix):
            return {rest.rstrip(">"): path[len(prefix):]}
        return None


class _ClientGone(Exception):
    """The client hung up before its request body arrived."""


def contract_error(exc: BaseException, *, request_id: str, path: str) -> tuple[GatewayError, bytes]:
    """The error a client sees for `exc`, and its body: a GatewayError as it is, a dead
    database or Redis as a 503, anything else as a 500 whose trace goes to the log (never
    to the client)."""
    if not isinstance(exc, GatewayError):
        _log_unhandled(exc, request_id=request_id, path=path)
        exc = _dependency_unavailable(exc) or InternalError()
    return exc, orjson.dumps(render_error_body(exc, request_id))


def _dependency_unavailable(exc: BaseException) -> ServiceUnavailable | None:
    for kind, dependency in _DEPENDENCY_ERRORS:
        if isinstance(exc, kind):
            return ServiceUnavailable(f"The {dependency} is unavailable; retry shortly", headers={"Retry-After": "5"})
    return None


_DEPENDENCY_ERRORS = ((DatabaseError, "database"), (redis.RedisError, "cache store (Redis)"))
_unhandled_observers: list[Callable[[str], None]] = []


def observe_unhandled_with(callback: Callable[[str], None]) -> None:
    """gateway_site/asgi.py hands in the metric counting unhandled errors by cause (this
    module imports no app, and metrics are defined in apps/stats/metrics.py)."""
    if callback not in _unhandled_observers:
        _unhandled_observers.append(callback)


def _log_unhandled(exc: BaseException, *, request_id: str, path: str) -> None:
    # A dead dependency fails every request the same way: the first trace of a cause is
    # logged, then one line per interval with the count (a trace per request was 20 MB
    # of log in 15 s during a database outage).
    cause = _cause_of(exc)
    for observe in _unhandled_observers:
        observe(cause)
    quiet = runtime.part(QuietLog)
    first = cause not in quiet.causes
    quiet.log(logger, logging.ERROR, cause, "unhandled %s request_id=%s path=%s", cause, request_id, path,
              exc_info=exc if first else None)


def _cause_of(exc: BaseException) -> str:
    """The exception's type and the last line of our own code it passed (else the line
    that raised it): the same failure always gets the same cause."""
    # walk_tb, not extract_tb: no source lines read for what may be every request.
    frames = [(frame.f_code.co_filename, line) for frame, line in traceback.walk_tb(exc.__traceback__)]
    ours = [(name, line) for name, line in frames if name.startswith(_PROJECT_ROOT) and "site-packages" not in name]
    if not frames:
        return type(exc).__name__
    filename, line = (ours or frames)[-1]
    return f"{type(exc).__name__} at {filename.removeprefix(_PROJECT_ROOT)}:{line}"


_PROJECT_ROOT = str(Path(__file__).resolve().parents[1]) + os.sep


class FrontDoor:
    def __init__(
        self,
        *,
        api_routes: Sequence[ApiRoute],
        django_app: Callable,
        websocket_app: Callable | None = None,
        observe: Observe,
        max_body_bytes: Callable[[], int],
        startup: Callable[[], Awaitable[None]],
        shutdown: Callable[[], Awaitable[None]],
        api_prefix: str = "/v1/",
        access_log: AccessLog | None = None,
    ) -> None:
        self.api_routes = list(api_routes)
        self.django_app = django_app
        self.websocket_app = websocket_app
        self.observe = observe
        self.max_body_bytes = max_body_bytes
        self.startup, self.shutdown = startup, shutdown
        self.api_prefix = api_prefix
        self.access_log = access_log  # None: no line per request (GATEWAY_ACCESS_LOG unset)

    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] == "http":
            if scope["path"].startswith(self.api_prefix):
                if tracing.tracer is not None:  # off, tracing costs this one test
                    return await self._serve_api_traced(scope, receive, send)
                await self._serve_api(scope, receive, send)
                return None
            return await self._serve_django(scope, receive, send)
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] == "websocket" and self.websocket_app is not None:
            return await self.websocket_app(scope, receive, send)
        return await self.django_app(scope, receive, send)

    # --- /v1/ -----------------------------------------------------------------------

    async def _serve_api_traced(self, scope: dict, receive, send) -> None:
        route, _ = self._resolve(scope["path"])
        pattern = route.pattern if route is not None else "unmatched"
        with tracing.request_span(scope["method"], pattern, scope["headers"]) as span:
            request_id, status = await self._serve_api(scope, receive, send)
            span.set_attribute(tracing.REQUEST_ID, request_id)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(tracing.Status(tracing.StatusCode.ERROR))

    async def _serve_api(self, scope: dict, receive, send) -> tuple[str, int]:
        """Answers; returns the request's id and the status the client got (499: none)."""
        request = ApiRequest(
            method=scope["method"],
            path=scope["path"],
            headers={name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]},
            request_id=new_request_id(),
            started=time.perf_counter(),
        )
        route, arguments = self._resolve(request.path)
        status, error = CLIENT_CLOSED, None
        try:
            try:
                request.body = await self._read_body(receive, request.headers)
                if route is None:
                    raise NotFound()
                response = await route.view(request, **arguments)
            except _ClientGone:
                return request.request_id, status
            except Exception as exc:  # noqa: BLE001 - every failure becomes a contract error, never a trace
                error, body = contract_error(exc, request_id=request.request_id, path=request.path)
                error_status = error.status
                if route is not None and route.render_error is not None:
                    error_status, body = route.render_error(error, request.request_id)
                response = ApiResponse(body=body, status=error_status, headers=dict(error.headers))
            response.headers = {**request.response_headers, **response.headers, "X-Request-ID": request.request_id}
            self.observe(request.method, route.pattern if route is not None else "unmatched", response.status, request.started)
            if response.stream is None:
                await send({"type": "http.response.start", "status": response.status, "headers": _header_list(response)})
                await send({"type": "http.response.body", "body": response.body})
                status = response.status
            elif await _send_stream(response, receive, send):
                status = response.status
        finally:
            if request.on_finish is not None:
                request.on_finish(status, error)
            if self.access_log is not None:
                self.access_log(request.request_id, request.method, request.path, status, request.started, request.describe)
        return request.request_id, status

    def _resolve(self, path: str) -> tuple[ApiRoute | None, dict[str, str]]:
        for route in self.api_routes:
            arguments = route.match(path)
            if arguments is not None:
                return route, arguments
        return None, {}

    async def _read_body(self, receive, headers: dict[str, str]) -> bytes:
        limit = self.max_body_bytes()
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

    # --- everything else: Django ----------------------------------------------------

    async def _serve_django(self, scope: dict, receive, send) -> None:
        started = time.perf_counter()
        request_id = new_request_id()
        scope = {**scope, REQUEST_ID_KEY: request_id}
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        try:
            body = await self._read_body(receive, headers)
        except _ClientGone:
            return
        except GatewayError as exc:  # too large: answered here, Django never sees the body
            error, payload = contract_error(exc, request_id=request_id, path=scope["path"])
            response = ApiResponse(body=payload, status=error.status, headers={"X-Request-ID": request_id})
            self.observe(scope["method"], "unmatched", error.status, started)
            await send({"type": "http.response.start", "status": response.status, "headers": _header_list(response)})
            await send({"type": "http.response.body", "body": response.body})
            if self.access_log is not None:
                self.access_log(request_id, scope["method"], scope["path"], error.status, started, None)
            return
        # The body is whole now: say its length, or Django reads a chunked one as empty.
        scope["headers"] = [
            *((name, value) for name, value in scope["headers"] if name.lower() not in (b"content-length", b"transfer-encoding")),
            (b"content-length", str(len(body)).encode()),
        ]
        status = 500

        async def send_noting_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:  # Django's side (gateway_site/middleware.py) sets X-Request-ID from the scope
            await self.django_app(scope, _replay(body, receive), send_noting_status)
        finally:
            self.observe(scope["method"], scope.get(ENDPOINT_KEY, "unmatched"), status, started)
            if self.access_log is not None:
                self.access_log(request_id, scope["method"], scope["path"], status, started, None)

    # --- lifespan -------------------------------------------------------------------

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.shutdown()
                except Exception:
                    logger.exception("shutdown failed")
                await send({"type": "lifespan.shutdown.complete"})
                return


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes")


def _replay(body: bytes, receive):
    """A `receive` that hands Django the body already read, then the real channel (so a
    hang-up still reaches it)."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _header_list(response: ApiResponse) -> list[tuple[bytes, bytes]]:
    headers = [(b"content-type", response.content_type.encode("latin-1"))]
    if response.stream is None:
        headers.append((b"content-length", str(len(response.body)).encode("latin-1")))
    headers.extend((name.lower().encode("latin-1"), str(value).encode("latin-1")) for name, value in response.headers.items())
    return headers


async def _send_stream(response: ApiResponse, receive, send) -> bool:
    """Relays the stream until it ends (True) or the client hangs up (False); a hang-up
    cancels the relay, which closes the upstream connection."""
    stream = response.stream

    async def relay() -> None:
        await send({"type": "http.response.start", "status": response.status, "headers": _header_list(response)})
        async for chunk in stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    relaying = asyncio.ensure_future(relay())
    watching = asyncio.ensure_future(_until_disconnect(receive))
    completed = False
    try:
        await asyncio.wait((relaying, watching), return_when=asyncio.FIRST_COMPLETED)
        completed = relaying.done() and not relaying.cancelled() and relaying.exception() is None
    finally:
        for task in (relaying, watching):
            if not task.done():
                task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:  # noqa: BLE001 - the status line is sent: all that is left is the log
                logger.exception("stream relay failed")
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    return completed


async def _until_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass

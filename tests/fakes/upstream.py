"""The fake upstream server: an aiohttp app speaking the OpenAI, Anthropic and Gemini APIs.

Run it with `python -m tests.fakes.upstream --host 127.0.0.1 --port 9100`. The plain path
(no "fake:" directive) is kept cheap because the load benchmark measures the gateway
against it: one orjson parse, a word count, one orjson dump.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import struct
from typing import Any

import orjson
from aiohttp import web

from .directives import NONE, DirectiveError, Directives, parse_directives
from .protocols import PROTOCOLS
from .protocols.base import (
    SSE_HEADERS,
    Conversation,
    ProviderProtocol,
    RequestError,
    build_answer,
    json_response,
)
from .protocols.embeddings import GEMINI_EMBEDDINGS, OPENAI_EMBEDDINGS
from .protocols.openai import models_response

STATE = web.AppKey("state", "FakeState")
LATENCY = web.AppKey("latency", float)
_NOT_JSON = b"this is not json {"
READY_PREFIX = "fake upstream listening on "


class _ClientLeft(Exception):
    """The client closed the connection mid-stream; carries the response aiohttp must finish."""

    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response


class FakeState:
    """Counters read by tests through GET /_fake/requests. One process, one event loop: no locks."""

    def __init__(self) -> None:
        self.number = 0  # never reset, so response ids stay unique
        self.reset()

    def reset(self) -> None:
        self.counts = dict.fromkeys(PROTOCOLS, 0)
        self.disconnects = dict.fromkeys(PROTOCOLS, 0)
        self.tags: dict[str, int] = {}
        self.tags_by_provider: dict[str, dict[str, int]] = {name: {} for name in PROTOCOLS}
        self.tag_disconnects: dict[str, int] = {}
        self.last: dict[str, tuple[web.Request, Any]] = {}

    def count_tags(self, provider: str, tags: list[str]) -> None:
        per_provider = self.tags_by_provider[provider]
        for tag in tags:
            self.tags[tag] = self.tags.get(tag, 0) + 1
            per_provider[tag] = per_provider.get(tag, 0) + 1

    def count_disconnect(self, provider: str, tags: list[str]) -> None:
        self.disconnects[provider] += 1
        for tag in tags:
            self.tag_disconnects[tag] = self.tag_disconnects.get(tag, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        last = {
            name: {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "headers": {str(k): v for k, v in request.headers.items()},
                "body": body,
            }
            for name, (request, body) in self.last.items()
        }
        return {
            "total": sum(self.counts.values()),
            "counts": self.counts,
            "disconnects": self.disconnects,
            "tags": self.tags,
            "tags_by_provider": self.tags_by_provider,
            "tag_disconnects": self.tag_disconnects,
            "last": last,
        }


async def handle(
    request: web.Request, proto: ProviderProtocol, model: str = "", stream: bool | None = None
) -> web.StreamResponse:
    state = request.app[STATE]
    state.number += 1
    state.counts[proto.name] += 1
    body = await _read_body(request)
    # Keeping the request (not a copy of its headers) keeps this cheap for the benchmark.
    state.last[proto.name] = (request, body)
    parsed = _parse(proto, body, model)
    if isinstance(parsed, str):
        return proto.auth_error(request) or proto.error_response(400, parsed)
    conv, found = parsed
    if found.tags:  # counted before the auth check: a refused attempt still reached us
        state.count_tags(proto.name, found.tags)
    if denied := proto.auth_error(request):
        return denied
    if stream is None:
        stream = body.get("stream") is True
    try:
        return await _respond(request, proto, conv, found, stream, state.number)
    except _ClientLeft as left:
        state.count_disconnect(proto.name, found.tags)
        return left.response  # aiohttp's write_eof fails quietly on the closed connection
    except asyncio.CancelledError:
        # The client went away while we waited (aiohttp cancels the handler, see
        # handler_cancellation), unless the fake dropped the connection itself.
        if not request.get("fake_reset"):
            state.count_disconnect(proto.name, found.tags)
        raise


async def _read_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"_raw": raw.decode(errors="replace")}
    return body if isinstance(body, dict) else {"_raw": raw.decode()}


def _parse(proto: ProviderProtocol, body: dict[str, Any], model: str) -> tuple[Conversation, Directives] | str:
    """The conversation and directives, or the message of the 400 the provider would send."""
    if "_raw" in body:
        return "We could not parse the JSON body of your request."
    try:
        conv = proto.conversation(body, model)
        return conv, parse_directives(conv.last_user_text)
    except (RequestError, DirectiveError) as exc:
        return str(exc)
    except (AttributeError, TypeError, KeyError, IndexError):
        return "malformed request body (a field has the wrong type)"


async def _respond(
    request: web.Request, proto: ProviderProtocol, conv: Conversation, found: Directives, stream: bool, number: int
) -> web.StreamResponse:
    latency = request.app[LATENCY] + found.delay
    if latency:
        await asyncio.sleep(latency)
    if found is not NONE:
        if early := await _early_fault(request, proto, found):
            return early
    answer = build_answer(proto.name, conv, found, number)
    if not stream:
        if found.badjson:
            return web.Response(body=_NOT_JSON, content_type="application/json")
        return proto.completion(conv, answer)
    events = proto.stream_events(conv, answer)
    if request.get("gemini_json_array"):
        return _gemini_array(events)
    return await _send_stream(request, proto, events, found, number)


async def _early_fault(
    request: web.Request, proto: ProviderProtocol, found: Directives
) -> web.StreamResponse | None:
    """hang, reset and error statuses: everything that happens instead of an answer."""
    if found.hang:
        await asyncio.Future()  # only the client giving up (handler cancellation) ends this
    if found.reset:
        request["fake_reset"] = True
        _reset_connection(request)
        await asyncio.Future()  # the connection loss cancels this handler; nothing is written
    status = found.status
    if status is None and found.flaky_tag:
        # .get: a POST /_fake/reset during a fake:delay may have cleared the count.
        if request.app[STATE].tags.get(found.flaky_tag, 0) <= found.flaky:
            status = found.flaky_status
    if status is None or status < 400:
        return None
    headers = {"Retry-After": found.retry_after} if found.retry_after else None
    message = f"fake upstream error {status} (injected by a fake: directive)"
    if found.echo_auth:  # as a careless upstream or proxy might: the credentials it was sent
        sent = [f"{name}: {value}" for name, value in request.headers.items()
                if name.lower() in ("authorization", "x-api-key", "x-goog-api-key")]
        message += f"; request headers were {', '.join(sent)}; query was {request.query_string}"
    return proto.error_response(status, message, headers)


def _reset_connection(request: web.Request) -> None:
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    try:
        # Linger 0 turns close into a TCP RST: the client sees a reset, not a clean EOF.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except (AttributeError, OSError):
        pass
    transport.abort()


def _stream_plan(
    proto: ProviderProtocol, events: list[bytes], found: Directives
) -> tuple[list[bytes], bool]:
    """The events to send and whether to close the connection after them (no terminator)."""
    if found is NONE:
        return events, False
    last = len(events) - 1  # a cut or error never lets the final event through
    if found.cut is not None:
        return events[: min(found.cut, last)], True
    if found.stream_error is not None:
        return events[: min(found.stream_error, last)] + [proto.stream_error_event()], False
    if found.badjson:
        return events[:1] + [proto.bad_json_event], False
    return events, False


async def _send_stream(
    request: web.Request, proto: ProviderProtocol, events: list[bytes], found: Directives, number: int
) -> web.StreamResponse:
    response = web.StreamResponse(headers={**SSE_HEADERS, **proto.response_headers(number)})
    events, close = _stream_plan(proto, events, found)
    pause = found.slow_stream
    try:
        await response.prepare(request)
        for index, event in enumerate(events):
            if pause and index:
                await asyncio.sleep(pause)
            await response.write(event)
    except ConnectionResetError:
        raise _ClientLeft(response) from None
    if close:
        request["fake_reset"] = True
        if request.transport is not None:
            request.transport.close()  # flushes what was written, then FIN mid-body
        await asyncio.Future()  # the connection loss cancels this handler
    return response  # aiohttp writes the last chunk, quietly if the client is gone by then


def _gemini_array(events: list[bytes]) -> web.Response:
    # streamGenerateContent without alt=sse answers one JSON array of the chunks (C3).
    body = b"[" + b",".join(event[6:-2] for event in events) + b"]"
    return web.Response(body=body, content_type="application/json")


async def openai_chat(request: web.Request) -> web.StreamResponse:
    return await handle(request, PROTOCOLS["openai"])


async def openai_embeddings(request: web.Request) -> web.StreamResponse:
    return await handle(request, OPENAI_EMBEDDINGS, stream=False)


async def openai_models(request: web.Request) -> web.StreamResponse:
    return models_response()


async def anthropic_messages(request: web.Request) -> web.StreamResponse:
    return await handle(request, PROTOCOLS["anthropic"])


async def anthropic_count_tokens(request: web.Request) -> web.StreamResponse:
    proto = PROTOCOLS["anthropic"]
    body = await _read_body(request)
    request.app[STATE].last["anthropic_count_tokens"] = (request, body)
    if denied := proto.auth_error(request):
        return denied
    try:
        tokens, last_user = proto.count_tokens(body)
        found = parse_directives(last_user)
    except (RequestError, DirectiveError) as exc:
        return proto.error_response(400, str(exc))
    if found.status:  # fake:status=N answers that error, as for messages
        return proto.error_response(found.status, f"fake upstream error {found.status} (injected by a fake: directive)")
    return json_response({"input_tokens": tokens})


async def gemini_models(request: web.Request) -> web.StreamResponse:
    # The colon sits inside one path segment ("gemini-2.5-flash:generateContent").
    model, _, method = request.match_info["tail"].partition(":")
    proto = PROTOCOLS["gemini"]
    if method == "generateContent":
        return await handle(request, proto, model, stream=False)
    if method == "streamGenerateContent":
        if request.query.get("alt") != "sse":
            request["gemini_json_array"] = True
        return await handle(request, proto, model, stream=True)
    if method in ("embedContent", "batchEmbedContents"):
        return await handle(request, GEMINI_EMBEDDINGS, model, stream=False)
    return proto.error_response(404, f"method {method!r} not found on models/{model}")


async def fake_requests(request: web.Request) -> web.Response:
    return json_response(request.app[STATE].snapshot())


async def fake_reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return json_response({"ok": True})


async def fake_health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


def build_app(latency_ms: float = 0.0) -> web.Application:
    # 32 MB: Anthropic's request limit, so image-heavy test bodies are accepted.
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app[STATE] = FakeState()
    app[LATENCY] = latency_ms / 1000.0
    app.router.add_post("/openai/v1/chat/completions", openai_chat)
    app.router.add_get("/openai/v1/models", openai_models)
    app.router.add_post("/openai/v1/embeddings", openai_embeddings)
    app.router.add_post("/anthropic/v1/messages", anthropic_messages)
    app.router.add_post("/anthropic/v1/messages/count_tokens", anthropic_count_tokens)
    app.router.add_post("/gemini/v1beta/models/{tail}", gemini_models)
    app.router.add_get("/_fake/requests", fake_requests)
    app.router.add_post("/_fake/reset", fake_reset)
    app.router.add_get("/_fake/health", fake_health)
    return app


async def serve(
    sock: socket.socket, latency_ms: float, *, announce: bool, parent: int | None = None
) -> None:
    # handler_cancellation: a client that gives up cancels the handler, which ends
    # fake:hang and lets streams count disconnects right away.
    runner = web.AppRunner(
        build_app(latency_ms), access_log=None, handler_cancellation=True, shutdown_timeout=0.5
    )
    await runner.setup()
    await web.SockSite(runner, sock).start()
    if announce:
        host, port = sock.getsockname()[:2]
        # The runner reads this line to learn the port (port 0 = any free port).
        print(f"{READY_PREFIX}http://{host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if parent is not None:
        loop.create_task(_exit_with_parent(parent, stop))
    await stop.wait()
    await runner.cleanup()


async def _exit_with_parent(parent: int, stop: asyncio.Event) -> None:
    # A worker must not outlive a killed parent (e.g. a test runner's SIGKILL).
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    stop.set()


def _listen(host: str, port: int, reuse_port: bool) -> socket.socket:
    sock = socket.create_server((host, port), backlog=1024, reuse_port=reuse_port)
    sock.setblocking(False)
    return sock


def _start_worker(host: str, port: int, latency_ms: float, inherited: socket.socket) -> int:
    """Fork one more server process on the same port (SO_REUSEPORT spreads connections)."""
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        inherited.close()
        _run(serve(_listen(host, port, True), latency_ms, announce=False, parent=os.getppid()))
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _run(coro: Any) -> None:
    try:
        import uvloop
    except ImportError:
        uvloop = None
    with asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None) as runner:
        runner.run(coro)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Fake OpenAI/Anthropic/Gemini upstream for tests and demos.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100, help="0 picks a free port (printed on stdout)")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=float(os.environ.get("FAKE_LATENCY_MS", "0") or 0),
        help="fixed delay added to every answer (default: $FAKE_LATENCY_MS or 0)",
    )
    parser.add_argument(
        "--workers", type=int, default=1,
        help="processes sharing the port, for benchmarks; /_fake/ counters are then per process",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    sock = _listen(args.host, args.port, reuse_port=args.workers > 1)
    port = sock.getsockname()[1]
    children = [_start_worker(args.host, port, args.latency_ms, sock) for _ in range(args.workers - 1)]
    try:
        _run(serve(sock, args.latency_ms, announce=True))
    finally:
        for pid in children:
            os.kill(pid, signal.SIGTERM)
        for pid in children:
            os.waitpid(pid, 0)


if __name__ == "__main__":
    main()

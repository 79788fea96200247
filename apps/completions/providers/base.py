"""Network I/O with the upstream providers, in one place.

aiohttp rather than httpx: on this kind of machine httpx's connection pool was measured
3x slower under concurrency (see docs/benchmarks.md), and the upstream client
is the largest cost a gateway adds. One session per process (a part of its runtime), pooled keep-alive
connections, no limit on connections per host (the providers' limits are what count).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import orjson

from apps.completions.providers.sse import SseParser
from apps.completions.providers.types import ProviderSettings, SseEvent, UpstreamRequest
from gateway_site import runtime


class UpstreamConnectionError(Exception):
    """No usable answer: refused, reset or closed before a response."""


class UpstreamTimeout(Exception):
    pass


@dataclass
class UpstreamResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class UpstreamSession:
    """The process's pooled HTTP client, a part of its runtime (gateway_site/runtime.py)."""

    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self.session is None or self.session.closed or self.loop is not loop:
            connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30, enable_cleanup_closed=True)
            # auto_decompress stays on: upstreams may gzip; skip_auto_headers keeps requests lean.
            self.session = aiohttp.ClientSession(connector=connector, skip_auto_headers=("User-Agent",))
            self.loop = loop
        return self.session

    async def aclose(self) -> None:
        session, self.session = self.session, None
        if session is not None and self.loop is asyncio.get_running_loop():
            await session.close()


def _session() -> aiohttp.ClientSession:
    return runtime.part(UpstreamSession).get()


def _headers(request: UpstreamRequest) -> dict[str, str]:
    return {"Content-Type": "application/json", "Accept-Encoding": "gzip", **request.headers}


async def send(request: UpstreamRequest, provider: ProviderSettings) -> UpstreamResponse:
    """One non-streamed call; the read timeout bounds the whole answer."""
    timeout = aiohttp.ClientTimeout(total=provider.read_timeout, connect=provider.connect_timeout)
    try:
        async with _session().post(
            request.url, data=orjson.dumps(request.json), headers=_headers(request), timeout=timeout
        ) as response:
            body = await response.read()
            return UpstreamResponse(response.status, dict(response.headers), body)
    except asyncio.TimeoutError as exc:
        raise UpstreamTimeout(f"{provider.name} did not answer within {provider.read_timeout:g} s") from exc
    except aiohttp.ClientError as exc:
        raise UpstreamConnectionError(_connection_message(provider, exc)) from exc


async def open_stream(request: UpstreamRequest, provider: ProviderSettings) -> aiohttp.ClientResponse:
    """Starts a streamed call. The caller must `release_stream()` the response.

    sock_read is the stream idle timeout: it bounds the wait for the headers and for each
    later read, so a stalled stream fails instead of hanging the client forever.
    """
    timeout = aiohttp.ClientTimeout(
        total=None, connect=provider.connect_timeout, sock_read=provider.stream_idle_timeout
    )
    try:
        return await _session().post(request.url, data=orjson.dumps(request.json), headers=_headers(request), timeout=timeout)
    except asyncio.TimeoutError as exc:
        raise UpstreamTimeout(f"{provider.name} did not start streaming within {provider.stream_idle_timeout:g} s") from exc
    except aiohttp.ClientError as exc:
        raise UpstreamConnectionError(_connection_message(provider, exc)) from exc


async def read_error_body(response: aiohttp.ClientResponse) -> bytes:
    try:
        return await response.read()
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return b""
    finally:
        response.release()


async def stream_event_batches(response: aiohttp.ClientResponse, provider: ProviderSettings) -> AsyncIterator[list[SseEvent]]:
    """Yields the SSE events of each network read as they arrive (one batch per read, so
    a busy gateway writes fewer, larger chunks to its client without waiting for any).
    Raises UpstreamTimeout / UpstreamConnectionError."""
    parser = SseParser()
    try:
        async for chunk in response.content.iter_any():
            events = parser.feed(chunk)
            if events:
                yield events
    except asyncio.TimeoutError as exc:
        raise UpstreamTimeout(f"{provider.name} stream was idle for {provider.stream_idle_timeout:g} s") from exc
    except aiohttp.ClientError as exc:
        raise UpstreamConnectionError(f"the connection to {provider.name} broke during the stream") from exc
    last = parser.flush()  # a last event without its blank line (Gemini may end so)
    if last:
        yield last


def release_stream(response: aiohttp.ClientResponse, *, complete: bool) -> None:
    """A stream that did not end cleanly is closed, not pooled: that also tells the
    upstream to stop generating (and billing) for a client that went away."""
    if complete:
        response.release()
    else:
        response.close()


def _connection_message(provider: ProviderSettings, exc: aiohttp.ClientError) -> str:
    """Plain words for the client; the library's own text (class names, URLs) stays here."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"could not connect to {provider.name}"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return f"{provider.name} closed the connection before its answer was complete"
    return f"the connection to {provider.name} failed"

"""A gateway worker's connection to the embedding service (apps/cache/embedding_service.py).

One connection per process and event loop, requests pipelined with ids. Nothing here
ever makes a request wait long: a lookup gives the service a budget of a few tens of ms,
and when the service is saturated, warming, down or slow, `aembed` raises `EmbedSkipped`
with the reason (counted by the caller in gateway_semantic_skipped_total). A dead
service is retried at most once a second, not once per request.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from array import array

import msgpack
from django.conf import settings

from apps.cache.embedding_protocol import BACKGROUND, LOOKUP, OK, WARMING, Address, frame, parse_address, read_frame
from gateway_site.quiet_log import QuietLog
from gateway_site import runtime

logger = logging.getLogger("gateway.cache")

MAX_IN_FLIGHT = 64  # per process: past this the service is behind, and waiting more won't help
MAX_BACKGROUND_IN_FLIGHT = 64  # background texts (stores) have their own room: never a lookup's
RETRY_AFTER = 1.0  # seconds between connection attempts to a dead service
CONNECT_TIMEOUT = 0.5


class EmbedSkipped(Exception):
    """No vector in time; `reason` is a gateway_semantic_skipped_total label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def service_address() -> Address:
    return parse_address(settings.GATEWAY_EMBEDDER_URL)


class EmbedderClient:
    """A part of the process's runtime (gateway_site/runtime.py)."""

    def __init__(self) -> None:
        self.address = service_address()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reader_task: asyncio.Task | None = None
        self.connecting: asyncio.Task | None = None
        self.waiting: dict[int, asyncio.Future] = {}
        self.background_in_flight = 0
        self.ids = itertools.count(1)
        self.failed_at = -RETRY_AFTER
        self.ready = False  # the service answered a vector or a ping with "ok"

    async def aembed(self, text: str, *, budget: float, kind: str = LOOKUP) -> list[float]:
        """The text's unit vector, or EmbedSkipped within about `budget` seconds. `kind`:
        embedding_protocol's LOOKUP, BACKGROUND (nobody waits: embedded only when the service
        is idle) or EXACT (the model's own fp32 vectors, for /v1/embeddings)."""
        background = kind == BACKGROUND
        if background and self.background_in_flight >= MAX_BACKGROUND_IN_FLIGHT:
            raise EmbedSkipped("saturated")
        if not background and len(self.waiting) - self.background_in_flight >= MAX_IN_FLIGHT:
            raise EmbedSkipped("saturated")
        started = time.monotonic()
        await self._aconnected(budget)
        remaining = budget - (time.monotonic() - started)
        self.background_in_flight += background
        try:
            status, vector = await self._arequest(text, remaining, kind)
        finally:
            self.background_in_flight -= background
        if status != OK:
            raise EmbedSkipped(status)
        self.ready = True
        return array("f", vector).tolist()

    async def aping(self, budget: float = CONNECT_TIMEOUT) -> str:
        """"ok", "warming" or "unavailable" (after at most `budget` seconds)."""
        try:
            await self._aconnected(budget)
            status, _ = await self._arequest(None, budget)
        except EmbedSkipped as skipped:
            return skipped.reason
        self.ready = self.ready or status == OK
        return status

    async def _arequest(self, text: str | None, budget: float, kind: str = LOOKUP) -> tuple[str, bytes | None]:
        request_id = next(self.ids)
        future = self.loop.create_future()
        self.waiting[request_id] = future
        try:
            self.writer.write(frame([request_id, text, max(1.0, budget * 1000), kind]))
            async with asyncio.timeout(budget + 0.005):  # the service answers "late" itself
                return await future
        except TimeoutError:
            raise EmbedSkipped("timeout") from None
        except ConnectionError:
            raise EmbedSkipped("unavailable") from None
        finally:
            self.waiting.pop(request_id, None)

    async def _aconnected(self, budget: float) -> None:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:  # a connection cannot move between loops (tests)
            self._drop_connection()
            self.loop = loop
        if self.writer is not None and not self.writer.is_closing():
            return
        if time.monotonic() - self.failed_at < RETRY_AFTER:
            raise EmbedSkipped("unavailable")
        if self.connecting is None or self.connecting.done():
            self.connecting = loop.create_task(self._aconnect())
        try:
            await asyncio.wait_for(asyncio.shield(self.connecting), timeout=min(budget, CONNECT_TIMEOUT))
        except (TimeoutError, OSError):
            raise EmbedSkipped("unavailable") from None
        if self.writer is None:
            raise EmbedSkipped("unavailable")

    async def _aconnect(self) -> None:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                reader, self.writer = await self.address.connect()
        except (OSError, TimeoutError) as exc:
            self.failed_at = time.monotonic()
            self.writer = None
            runtime.part(QuietLog).warning(
                logger, "embedder_unavailable", "embedding service unavailable at %s (%s): semantic cache skipped",
                self.address.url, exc.__class__.__name__,
            )
            return
        self.reader_task = asyncio.get_running_loop().create_task(self._read_replies(reader, self.writer))

    async def _read_replies(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_id, status, vector = await read_frame(reader)
                future = self.waiting.get(request_id)
                if future is not None and not future.done():
                    future.set_result((status, vector))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            # The next request connects anew (a restarted service is found at once); only a
            # failed connection attempt waits RETRY_AFTER.
            if self.writer is writer:
                self.writer = None
            for future in self.waiting.values():
                if not future.done():
                    future.set_exception(ConnectionError("embedding service closed the connection"))

    def _drop_connection(self) -> None:
        if self.writer is not None:
            try:
                self.writer.close()
            except RuntimeError:
                pass  # its loop is closed already
        self.writer, self.reader_task, self.connecting = None, None, None
        self.waiting.clear()

    async def aclose(self) -> None:
        task = self.reader_task
        if self.loop is asyncio.get_running_loop():
            self._drop_connection()
            if task is not None:
                task.cancel()


def probe(timeout: float = CONNECT_TIMEOUT) -> str:
    """The service's state from a blocking socket, for health checks in any thread:
    "ok", "warming" or "unavailable"."""
    address = service_address()
    try:
        if address.is_unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target: object = address.path
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            target = address.host_port
        with sock:
            sock.settimeout(timeout)
            sock.connect(target)
            sock.sendall(frame([0, None, timeout * 1000]))
            header = _recv_exactly(sock, 4)
            _, status, _ = msgpack.unpackb(_recv_exactly(sock, int.from_bytes(header, "big")), raw=False)
            return status if status in (OK, WARMING) else "unavailable"
    except (OSError, ValueError):
        return "unavailable"


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data

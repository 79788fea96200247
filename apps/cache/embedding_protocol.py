"""The embedding service's wire format, shared by the service and its clients.

Every message is one frame: a 4-byte big-endian length, then a msgpack array.
  request:  [id, text, budget_ms, kind]   text None = a ping (answered at once)
  reply:    [id, status, vector]    vector = 384 float32 little-endian bytes, or None
`budget_ms` is how long the caller will wait: the service drops a request whose budget
ran out before its batch started instead of computing a vector nobody reads.
`kind` (optional, LOOKUP when absent): LOOKUP, a caller waits (the service's fast model);
BACKGROUND, nobody waits (a store): only the time no waiting caller needs; EXACT, a caller
waits for the model's own vectors (/v1/embeddings: fp32, the same whatever the batch).
"""

from __future__ import annotations

import asyncio
import os
import struct
from dataclasses import dataclass
from urllib.parse import urlparse

import msgpack

OK = "ok"
WARMING = "warming"  # the model is still loading
SATURATED = "saturated"  # the service's queue is full
LATE = "late"  # the budget ran out in the queue
FAILED = "failed"  # the model raised
TOO_LONG = "too_long"

LOOKUP, BACKGROUND, EXACT = "lookup", "background", "exact"  # request kinds

MAX_FRAME = 64 * 1024  # a text longer than this is never embedded (the model reads 256 tokens)
_LENGTH = struct.Struct(">I")


def frame(message: list) -> bytes:
    payload = msgpack.packb(message, use_bin_type=True)
    return _LENGTH.pack(len(payload)) + payload


async def read_frame(reader: asyncio.StreamReader) -> list:
    """The next message; raises asyncio.IncompleteReadError at end of stream, ValueError
    on an oversized frame (the connection is then closed)."""
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes")
    return msgpack.unpackb(await reader.readexactly(length), raw=False)


@dataclass(frozen=True)
class Address:
    """Where the service listens: unix:///path/to.sock or tcp://127.0.0.1:7070."""

    url: str

    @property
    def is_unix(self) -> bool:
        return self.url.startswith("unix://")

    @property
    def path(self) -> str:
        return self.url.removeprefix("unix://")

    @property
    def host_port(self) -> tuple[str, int]:
        parsed = urlparse(self.url)
        return parsed.hostname or "127.0.0.1", parsed.port or 7070

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.is_unix:
            return await asyncio.open_unix_connection(self.path)
        host, port = self.host_port
        return await asyncio.open_connection(host, port)

    async def serve(self, handler) -> asyncio.AbstractServer:
        if self.is_unix:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            if os.path.exists(self.path):
                os.unlink(self.path)  # a stale socket of a previous run
            return await asyncio.start_unix_server(handler, self.path)
        host, port = self.host_port
        return await asyncio.start_server(handler, host, port)


def parse_address(url: str) -> Address:
    if not (url.startswith("unix://") or url.startswith("tcp://")):
        raise ValueError(f"GATEWAY_EMBEDDER_URL must start with unix:// or tcp://, not {url!r}")
    return Address(url)

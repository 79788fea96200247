"""Where the caches plug into the completion path.

Kept as one small seam so the completion service does not know how caching works:
`acache_lookup` before the upstream call, `acache_store` after a complete answer, and a
`StreamCollector` that rebuilds a streamed answer so it can be stored once it finished.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from apps.completions.validation import ChatRequest


@dataclass
class CachedAnswer:
    kind: str  # "exact" or "semantic"
    completion: dict[str, Any]


async def acache_lookup(chat: ChatRequest) -> CachedAnswer | None:
    return None


async def acache_store(chat: ChatRequest, completion: dict[str, Any]) -> None:
    return None


class StreamCollector:
    def __init__(self, chat: ChatRequest) -> None:
        self.chat = chat

    def add(self, chunk: dict[str, Any]) -> None:
        pass

    def finish(self, usage: dict[str, Any] | None) -> None:
        pass


async def replay_as_stream(completion: dict[str, Any], *, include_usage: bool) -> AsyncIterator[bytes]:
    raise NotImplementedError  # the exact cache (issue 4) serves streams from stored answers
    yield b""

"""Where the caches plug into the completion path.

Kept as one small seam so the completion service does not know how caching works:
`acache_lookup` before the upstream call, `acache_store` after a complete answer, and a
`StreamCollector` that rebuilds a streamed answer so it can be stored once it finished.
The work is done by apps.cache (services.py: exact then semantic; replay.py: streams).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from apps.cache import replay
from apps.cache import services as cache
from apps.completions.validation import ChatRequest


@dataclass
class CachedAnswer:
    kind: str  # "exact" or "semantic"
    completion: dict[str, Any]


async def acache_lookup(chat: ChatRequest) -> CachedAnswer | None:
    found = await cache.acache_lookup(chat)
    return CachedAnswer(kind=found[0], completion=found[1]) if found else None


async def acache_store(chat: ChatRequest, completion: dict[str, Any]) -> None:
    """Returns at once: the writes run after the response has been sent."""
    cache.cache_store(chat, completion)


class StreamCollector:
    """Fed every chunk relayed to the client; `finish` is called only for a stream that
    completed, so cut, failed and abandoned streams are never stored."""

    def __init__(self, chat: ChatRequest) -> None:
        self._recorder = cache.StreamRecorder(chat)

    def add(self, chunk: dict[str, Any]) -> None:
        self._recorder.add(chunk)

    def finish(self, usage: dict[str, Any] | None) -> None:
        self._recorder.finish(usage)


async def replay_as_stream(completion: dict[str, Any], *, include_usage: bool) -> AsyncIterator[bytes]:
    # One write: the answer is all here, and each ASGI send costs more than the bytes.
    yield b"".join(replay.replay_events(completion, include_usage=include_usage))

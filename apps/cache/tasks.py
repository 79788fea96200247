"""Cache writes run as background tasks, after the response has gone out.

asyncio keeps only weak references to tasks, so a fire-and-forget task can be garbage
collected mid-flight; `_pending` holds them until they finish. A write that fails or is
dropped (too many pending) is counted in a metric and logged at most once a minute, and
forgotten: the cache is an optimisation, never a reason to fail a request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from apps.stats import metrics
from gateway_site import runtime
from gateway_site.quiet_log import QuietLog

logger = logging.getLogger("gateway.cache")

MAX_PENDING = 1000  # past this, new writes are dropped rather than queued without bound

_pending: set[asyncio.Task] = set()


def spawn(coro: Coroutine[Any, Any, Any], *, bounded: bool = True) -> None:
    """Runs `coro` in the background; `bounded=False` for a task that bounds its own work
    (the semantic store queue's drain), which must never be dropped."""
    if bounded and len(_pending) >= MAX_PENDING:
        coro.close()
        metrics.child(metrics.CACHE_WRITES_DROPPED, "backlog").inc()
        runtime.part(QuietLog).warning(logger, "cache_write_dropped", "cache write dropped: %d writes already pending", len(_pending))
        return
    task = asyncio.get_running_loop().create_task(coro)
    _pending.add(task)
    task.add_done_callback(_finished)


def _finished(task: asyncio.Task) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        metrics.child(metrics.CACHE_WRITES_DROPPED, "failed").inc()
        runtime.part(QuietLog).warning(logger, "cache_write_failed", "cache write failed: %r", task.exception())


async def adrain() -> None:
    """Waits for the writes started on this loop (tests, shutdown)."""
    loop = asyncio.get_running_loop()
    while mine := [task for task in _pending if task.get_loop() is loop]:
        await asyncio.gather(*mine, return_exceptions=True)

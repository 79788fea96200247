"""Buffered writing of usage records, off the request path.

`usage_record()` only appends to an in-process buffer; a background task writes batches
with one bulk INSERT. If the database is briefly unavailable the batch goes back to the
buffer and is retried; only when the bounded buffer overflows are the oldest records
dropped, and each drop is counted in gateway_usage_records_dropped_total. Shutdown
(ASGI lifespan, or atexit) flushes what is left.
"""

from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from apps.stats import metrics
from gateway_site import runtime
from gateway_site.db import close_stale_connection
from gateway_site.quiet_log import QuietLog

logger = logging.getLogger(__name__)

MAX_BUFFERED = 50_000
BATCH_SIZE = 500
FLUSH_INTERVAL = 0.5  # seconds
LOCK_TIMEOUT_MS = 500
SHUTDOWN_PATIENCE = 5.0  # seconds a shutdown keeps retrying refused batches (process managers wait ~10+)


@dataclass
class UsageData:
    request_id: str
    status_code: int
    api_key_id: int | None = None
    key_prefix: str = ""
    team_id: int | None = None
    model: str = ""
    provider: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    error_code: str = ""
    error_message: str = ""  # redacted and shortened (gateway_site/redaction.py)
    cache: str = ""
    stream: bool = False
    attempts: int = 1
    fallback_from: str = ""
    tokens_estimated: bool = False
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


# Called with each written batch inside its transaction, e.g. to maintain rollups.
batch_hooks: list[Callable[[list[UsageData]], None]] = []

# One thread of its own: one database connection, kept, and no pool juggling.
_WRITER_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="usage-writer")


class UsageWriter:
    """The buffer of records not yet written and the task that writes them: a part of the
    process's runtime (gateway_site/runtime.py). Closing it writes what is left."""

    def __init__(self) -> None:
        self.buffer: deque[UsageData] = deque()
        self.lock = threading.Lock()
        self.flusher: asyncio.Task | None = None
        self.wake: asyncio.Event | None = None

    def add(self, usage: UsageData) -> None:
        with self.lock:
            if len(self.buffer) >= MAX_BUFFERED:
                self.buffer.popleft()
                metrics.USAGE_DROPPED.inc()
            self.buffer.append(usage)
        self._ensure_flusher()

    def _ensure_flusher(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # sync callers (tests, commands) flush explicitly or at exit
        if self.flusher is None or self.flusher.done() or self.flusher.get_loop() is not loop:
            self.wake = asyncio.Event()
            self.flusher = loop.create_task(self._flush_forever())
        if len(self.buffer) >= BATCH_SIZE:
            self.wake.set()

    async def _flush_forever(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), FLUSH_INTERVAL)
            except asyncio.TimeoutError:
                pass
            self.wake.clear()
            while self.buffer:
                if not await self.aflush_once():
                    await asyncio.sleep(1.0)  # database unavailable: keep the records, try again
                    break
                # Go on at once only while full batches wait. Flushing whatever trickled in
                # meanwhile made, under load, a stream of tiny batches, each paying a thread
                # hop, a transaction and two rollup upserts (~40 µs per request, measured).
                if len(self.buffer) < BATCH_SIZE:
                    break

    async def aflush_once(self) -> bool:
        return await asyncio.get_running_loop().run_in_executor(_WRITER_THREAD, self.flush_once)

    def flush_once(self) -> bool:
        """Writes one batch; returns False (records kept) when the database refused it."""
        with self.lock:
            batch = [self.buffer.popleft() for _ in range(min(BATCH_SIZE, len(self.buffer)))]
        if not batch:
            return True
        try:
            close_stale_connection()
            _write(batch)
            return True
        except Exception as exc:
            metrics.USAGE_WRITE_FAILURES.inc()
            runtime.part(QuietLog).warning(
                logger, "usage_write", "usage batch of %d not written, kept to retry (%d buffered): %s",
                len(batch), len(self.buffer) + len(batch), exc,
            )
            with self.lock:
                self.buffer.extendleft(reversed(batch))
            return False

    def flush_all(self) -> None:
        while self.buffer and self.flush_once():
            pass

    async def aflush_all(self, *, patience: float = SHUTDOWN_PATIENCE) -> None:
        """Writes every buffered record. A refused batch is tried again for up to `patience`
        seconds: at shutdown, several processes' writers contend for the same rollup rows
        (lock_timeout) and a rolling restart must lose none of a stopping process's records."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        while self.buffer:
            if await self.aflush_once():
                continue
            if loop.time() >= deadline:
                logger.error("usage records not written before shutdown: %d still buffered", len(self.buffer))
                return
            await asyncio.sleep(0.2)

    async def aclose(self) -> None:
        if self.flusher is not None and self.flusher.get_loop() is asyncio.get_running_loop():
            self.flusher.cancel()
        await self.aflush_all()


def _writer() -> UsageWriter:
    return runtime.part(UsageWriter)


def usage_record(usage: UsageData) -> None:
    """Never blocks and never raises: the request that produced it is already answered."""
    _writer().add(usage)
    _count_metrics(usage)


def _count_metrics(usage: UsageData) -> None:
    if usage.cache or not usage.provider:
        return
    metrics.child(metrics.TOKENS, usage.provider, usage.model, "prompt").inc(usage.prompt_tokens)
    metrics.child(metrics.TOKENS, usage.provider, usage.model, "completion").inc(usage.completion_tokens)
    metrics.child(metrics.COST, usage.provider, usage.model).inc(float(usage.cost_usd))


def flush_once() -> bool:
    return _writer().flush_once()


def flush_all() -> None:
    _writer().flush_all()


async def aflush_all() -> None:
    await _writer().aflush_all()


def pending() -> list[UsageData]:
    """The records not written yet, oldest first."""
    return list(_writer().buffer)


_COLUMNS = (
    "created_at", "request_id", "api_key_id", "key_prefix", "model", "provider", "prompt_tokens",
    "completion_tokens", "total_tokens", "cost_usd", "latency_ms", "ttft_ms", "status_code", "error_code",
    "error_message", "cache", "stream", "attempts", "fallback_from", "tokens_estimated", "team_id",
)


def _row(usage: UsageData) -> tuple:
    return (
        usage.created_at, usage.request_id, usage.api_key_id, usage.key_prefix, usage.model, usage.provider,
        usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.cost_usd, usage.latency_ms,
        usage.ttft_ms, usage.status_code, usage.error_code, usage.error_message, usage.cache, usage.stream, usage.attempts,
        usage.fallback_from, usage.tokens_estimated, usage.team_id,
    )


def _write(batch: list[UsageData]) -> None:
    # COPY rather than bulk_create: the writer shares the GIL with the event loop, and
    # building ORM objects cost about as much CPU as the requests being recorded.
    from django.db import connection

    from apps.stats.models import UsageRecord

    table = connection.ops.quote_name(UsageRecord._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        # Never queue behind whoever holds these tables (a migration, a TRUNCATE, a VACUUM
        # FULL): give up and retry later, keeping the records. Shorter than Postgres's 1 s
        # deadlock_timeout, so a lock cycle ends with the writer backing off, not with
        # the other side killed.
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
        with cursor.cursor.copy(f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for usage in batch:
                copy.write_row(_row(usage))
        for hook in batch_hooks:
            hook(batch)


def _flush_at_exit() -> None:
    try:
        flush_all()
    except Exception:  # the interpreter is going away; nothing else can be done
        logger.exception("usage records lost at exit: %d", len(pending()))


atexit.register(_flush_at_exit)

"""Keeping /v1/responses answers for `previous_response_id`, in PostgreSQL, per key.

Storing never delays an answer: `response_store()` puts the row in this process's buffer
and a background task writes what is buffered in one `bulk_create` (under load, batches
form by themselves). Until it is written, a row is read from the buffer, so a client that
continues a conversation at once finds it in the same worker. (Another worker sees it once
the write lands, a few milliseconds later.) Rows live GATEWAY_RESPONSES_RETENTION_DAYS
(0: nothing is stored); expired rows are never read, and deleted at most once an hour by
each writing process, or by `manage.py prune_responses`.

A dead database costs only this feature: writes are kept and retried (bounded buffer,
a metric for drops), and a lookup that cannot reach it answers 503.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.responses.models import StoredResponse
from apps.stats import metrics
from gateway_site import runtime
from gateway_site.db import close_stale_connection
from gateway_site.quiet_log import QuietLog

logger = logging.getLogger("gateway.responses")

MAX_BUFFERED = 10_000  # past this the oldest unwritten row is dropped (and counted)
BATCH_SIZE = 500
FLUSH_INTERVAL = 0.1  # seconds a partial batch waits (another worker reads a row this much later)
PRUNE_INTERVAL = 3600.0  # seconds between two deletions of expired rows by one process

# One thread of its own: one database connection, kept.
_WRITER_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="responses-writer")


@dataclass(frozen=True)
class NewResponse:
    id: str
    key_id: int
    model: str
    input_items: list[dict[str, Any]]
    output_items: list[dict[str, Any]]
    created_at: float  # epoch seconds
    expires_at: float


@dataclass(frozen=True)
class Conversation:
    """What a stored response continues from: its input items, then its output items."""

    input_items: list[dict[str, Any]]
    output_items: list[dict[str, Any]]

    @property
    def items(self) -> list[dict[str, Any]]:
        return [*self.input_items, *self.output_items]


class ResponseStore:
    """The rows not yet written and the task writing them: a runtime part."""

    def __init__(self) -> None:
        self.buffer: OrderedDict[str, NewResponse] = OrderedDict()
        self.lock = threading.Lock()
        self.flusher: asyncio.Task | None = None
        self.last_prune = 0.0

    def add(self, row: NewResponse) -> None:
        with self.lock:
            if len(self.buffer) >= MAX_BUFFERED:
                self.buffer.popitem(last=False)
                metrics.child(metrics.RESPONSES_NOT_STORED, "backlog").inc()
            self.buffer[row.id] = row
        loop = asyncio.get_running_loop()
        if self.flusher is None or self.flusher.done() or self.flusher.get_loop() is not loop:
            self.flusher = loop.create_task(self._flush_all_soon())

    def buffered(self, response_id: str) -> NewResponse | None:
        with self.lock:
            return self.buffer.get(response_id)

    async def _flush_all_soon(self) -> None:
        while self.buffer:
            if len(self.buffer) < BATCH_SIZE:
                # Let a batch gather: under load, writing each row as it came was a stream of
                # one-row transactions costing a worker ~20 % of its throughput (measured).
                await asyncio.sleep(FLUSH_INTERVAL)
            written = await asyncio.get_running_loop().run_in_executor(_WRITER_THREAD, self.flush_once)
            if not written:
                await asyncio.sleep(1.0)  # database unavailable: keep the rows, try again

    def flush_once(self) -> bool:
        """Writes one batch (kept in the buffer until written); False if the database refused it."""
        with self.lock:
            batch = [row for row, _ in zip(self.buffer.values(), range(BATCH_SIZE))]
        if not batch:
            return True
        try:
            close_stale_connection()
            _write(batch)
        except IntegrityError as exc:
            # A batch whose commit was reported lost, then retried: it is there already.
            # Never retried again, or it would block every later row.
            metrics.child(metrics.RESPONSES_NOT_STORED, "conflict").inc()
            runtime.part(QuietLog).warning(logger, "responses_conflict", "stored responses batch dropped: %s", exc)
        except Exception as exc:  # noqa: BLE001 - kept and retried; the answers already went out
            metrics.RESPONSES_WRITE_FAILURES.inc()
            runtime.part(QuietLog).warning(
                logger, "responses_write", "%d stored responses not written, kept to retry: %s", len(batch), exc,
            )
            return False
        with self.lock:
            for row in batch:
                self.buffer.pop(row.id, None)
        if time.monotonic() - self.last_prune > PRUNE_INTERVAL or not self.last_prune:
            self.last_prune = time.monotonic()
            try:
                responses_prune()
            except Exception as exc:  # noqa: BLE001 - expired rows are never read; next hour then
                runtime.part(QuietLog).warning(logger, "responses_prune", "pruning stored responses failed: %s", exc)
        return True

    def flush_all(self) -> None:
        while self.buffer and self.flush_once():
            pass

    async def aclose(self) -> None:
        if self.flusher is not None and self.flusher.get_loop() is asyncio.get_running_loop():
            self.flusher.cancel()
        while self.buffer and await asyncio.get_running_loop().run_in_executor(_WRITER_THREAD, self.flush_once):
            pass


def _aware(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC)


_COLUMNS = ("id", "api_key_id", "model", "input_items", "output_items", "created_at", "expires_at")
LOCK_TIMEOUT_MS = 500


def _write(batch: list[NewResponse]) -> None:
    # COPY, not bulk_create: the writer shares the GIL with the event loop, and building ORM
    # objects and their JSON cost 3-4x the CPU (measured, bench/responses_overhead.py).
    table = connection.ops.quote_name(StoredResponse._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        # Never queue behind whoever holds the table (a migration, a VACUUM FULL): retry later.
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
        with cursor.cursor.copy(f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for row in batch:
                copy.write_row((
                    row.id, row.key_id, row.model, orjson.dumps(row.input_items).decode(),
                    orjson.dumps(row.output_items).decode(), _aware(row.created_at), _aware(row.expires_at),
                ))


def retention_seconds() -> float:
    return settings.GATEWAY_RESPONSES_RETENTION_DAYS * 86400.0


def response_store(
    *, response_id: str, key_id: int, model: str, input_items: list[dict[str, Any]], output_items: list[dict[str, Any]],
) -> None:
    """Keeps a response for later turns; returns at once (must run on the event loop)."""
    retention = retention_seconds()
    if retention <= 0:
        return
    now = time.time()
    runtime.part(ResponseStore).add(NewResponse(
        id=response_id, key_id=key_id, model=model, input_items=input_items,
        output_items=output_items, created_at=now, expires_at=now + retention,
    ))


async def aresponse_conversation(*, response_id: str, key_id: int) -> Conversation | None:
    """The stored conversation `response_id` ends, if this key stored it and it has not
    expired; another key's id reads as absent, exactly like an unknown one."""
    row = runtime.part(ResponseStore).buffered(response_id)
    if row is not None:
        if row.key_id != key_id or row.expires_at <= time.time():
            return None
        return Conversation(row.input_items, row.output_items)
    return await sync_to_async(_load, thread_sensitive=False)(response_id, key_id)


def _load(response_id: str, key_id: int) -> Conversation | None:
    close_stale_connection()
    found = (
        StoredResponse.objects.filter(id=response_id, api_key_id=key_id, expires_at__gt=timezone.now())
        .values_list("input_items", "output_items")
        .first()
    )
    return Conversation(*found) if found is not None else None


def responses_prune() -> int:
    """Deletes expired rows; returns how many."""
    deleted, _ = StoredResponse.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted

"""One embedding model per machine, shared by every gateway worker (`manage.py embedder`).

Workers send texts over a local socket (apps/cache/embedding_protocol.py); the service
answers with vectors. Why a service: the model costs ~500 MB and ~5 s to load per
process, and one core embeds only ~150-200 texts/s, so N workers each holding a copy
paid N times the memory and fought over the same cores.

Batching: one inference thread; while it encodes, requests from every connection queue
up, and the next batch takes the queued ones whose caller still waits, earliest deadline
first (lookups with a 25 ms budget go before stores that can wait seconds), one text
encoded once however many callers sent it, and no more texts than can be encoded before
the most urgent caller stops waiting (the cost per text is measured as it runs). A request
that could not be reached in time answers "saturated" at once, so a caller never waits
for work that cannot be done for it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from apps.cache import embedder
from apps.cache.embedding_protocol import (
    FAILED, LATE, MAX_FRAME, OK, SATURATED, TOO_LONG, WARMING, Address, frame, read_frame,
)

logger = logging.getLogger("gateway.embedder")

MAX_QUEUED = 256  # texts waiting; ~1 s of work: beyond it, answering "saturated" is kinder
MAX_BATCH_SECONDS = 0.012  # a lookup arriving behind a batch of stores waits at most about this
FIRST_COST_GUESS = 0.006  # seconds per text until measured (ONNX, one core, short texts)
MAX_TEXT_CHARS = 8192  # the model reads 256 tokens; longer texts are cut by the tokenizer anyway


@dataclass(order=True)
class _Job:
    deadline: float
    order: int
    text: str = field(compare=False)
    reply: "asyncio.StreamWriter" = field(compare=False)
    request_id: int = field(compare=False)


class EmbeddingService:
    def __init__(self, address: Address, *, backend: str | None = None, max_queued: int = MAX_QUEUED,
                 max_batch_seconds: float = MAX_BATCH_SECONDS) -> None:
        self.address = address
        self.max_batch_seconds = max_batch_seconds
        self.backend = backend
        self.max_queued = max_queued
        self.ready = False
        self.queue: list[_Job] = []
        self.wake = asyncio.Event()
        self.order = itertools.count()
        self.inference = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedder")
        self.cost_per_text = FIRST_COST_GUESS  # moving average of measured batches
        self.batches = 0
        self.texts = 0
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Listens at once (clients hear "warming"), then loads the model."""
        self.server = await self.address.serve(self._serve_connection)
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        await loop.run_in_executor(self.inference, embedder.warm_up, self.backend)
        self.ready = True
        logger.info("embedder ready at %s (%s backend, loaded in %.1f s)", self.address.url,
                    self.backend or embedder.default_backend(), time.monotonic() - started)
        loop.create_task(self._batch_loop())

    async def aclose(self) -> None:
        if self.server is not None:
            self.server.close()
        self.inference.shutdown(wait=False, cancel_futures=True)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_id, text, budget_ms = await read_frame(reader)
                self._accept(request_id, text, budget_ms, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the worker went away
        except (ValueError, TypeError) as exc:
            logger.warning("closing a connection that sent a malformed frame: %s", exc)
        finally:
            writer.close()

    def _accept(self, request_id: int, text: str | None, budget_ms: float, writer: asyncio.StreamWriter) -> None:
        if text is None:
            return self._answer(writer, request_id, OK if self.ready else WARMING)
        if not self.ready:
            return self._answer(writer, request_id, WARMING)
        if len(text) > MAX_TEXT_CHARS or len(text.encode()) > MAX_FRAME:
            return self._answer(writer, request_id, TOO_LONG)
        deadline = time.monotonic() + budget_ms / 1000
        if len(self.queue) >= self.max_queued or self._cannot_make(deadline):
            return self._answer(writer, request_id, SATURATED)
        heapq.heappush(self.queue, _Job(deadline, next(self.order), text, writer, request_id))
        self.wake.set()

    def _cannot_make(self, deadline: float) -> bool:
        """True if the jobs due before this one (plus it) cannot be encoded by its deadline."""
        ahead = sum(1 for job in self.queue if job.deadline <= deadline)
        return time.monotonic() + (ahead + 1) * self.cost_per_text > deadline

    async def _batch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.wake.wait()
            self.wake.clear()
            while batch := self._next_batch():
                texts = list(dict.fromkeys(job.text for job in batch))  # each text once
                started = time.monotonic()
                try:
                    vectors = await loop.run_in_executor(self.inference, embedder.embed_sync, texts, self.backend)
                except Exception:  # the service must survive any failure of the model
                    logger.exception("embedding a batch of %d texts failed", len(texts))
                    for job in batch:
                        self._answer(job.reply, job.request_id, FAILED)
                    continue
                cost = (time.monotonic() - started) / len(texts)
                self.cost_per_text = 0.8 * self.cost_per_text + 0.2 * cost
                self.batches += 1
                self.texts += len(texts)
                by_text = {text: array("f", vector).tobytes() for text, vector in zip(texts, vectors)}
                for job in batch:
                    self._answer(job.reply, job.request_id, OK, by_text[job.text])

    def _next_batch(self) -> list[_Job]:
        """The queued jobs whose callers still wait, earliest deadline first, as many as can
        be encoded before the first of them stops waiting, and no longer than
        MAX_BATCH_SECONDS (at least one): one text costs nearly the same alone as in a
        batch on ONNX (docs/benchmarks.md), so long batches only make lookups wait."""
        now, batch = time.monotonic(), []
        while self.queue and len(batch) < embedder.MAX_BATCH:
            job = self.queue[0]
            finish = now + (len(batch) + 1) * self.cost_per_text
            if batch and finish > min(batch[0].deadline, now + self.max_batch_seconds):
                break
            heapq.heappop(self.queue)
            if now + self.cost_per_text > job.deadline:
                self._answer(job.reply, job.request_id, LATE)
            elif not job.reply.is_closing():
                batch.append(job)
        return batch

    @staticmethod
    def _answer(writer: asyncio.StreamWriter, request_id: int, status: str, vector: bytes | None = None) -> None:
        if not writer.is_closing():
            writer.write(frame([request_id, status, vector]))


async def aserve_forever(address: Address, *, backend: str | None = None) -> None:
    service = EmbeddingService(address, backend=backend)
    await service.start()
    try:
        await asyncio.Event().wait()
    finally:
        await service.aclose()

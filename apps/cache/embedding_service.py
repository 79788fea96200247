"""One embedding model per machine, shared by every gateway worker (`manage.py embedder`).

Workers send texts over a local socket (apps/cache/embedding_protocol.py); the service
answers with vectors. Why a service: the model costs ~500 MB and ~5 s to load per
process, and one core embeds only ~150-200 texts/s, so N workers each holding a copy
paid N times the memory and fought over the same cores.

Batching: one inference thread; while it encodes, requests from every connection queue
up, and the next batch takes the queued ones whose caller still waits, earliest deadline
first, one text encoded once however many callers sent it, and no more texts than can be
encoded before the most urgent caller stops waiting (the cost per text is measured as it
runs). A request that could not be reached in time answers "saturated" at once, so a
caller never waits for work that cannot be done for it.

Two classes of work: a caller waiting (a lookup, an /v1/embeddings request) and
*background* texts (the store of an answer whose lookup was skipped). Background texts
are encoded only when no caller has asked for BACKGROUND_AFTER_IDLE seconds, in short
batches, and refused ("saturated") at once when their own queue is full. Under load the
service's cycles go to lookups, whose vectors their stores then reuse: on a machine whose
cores the workers share, a background text is CPU taken from the requests, not idle time
(measured in docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from array import array
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from apps.cache import embedder
from apps.cache.embedding_protocol import (
    BACKGROUND, EXACT, FAILED, LATE, LOOKUP, MAX_FRAME, OK, SATURATED, TOO_LONG, WARMING, Address, frame, read_frame,
)

logger = logging.getLogger("gateway.embedder")

MAX_QUEUED = 256  # texts waiting; ~1 s of work: beyond it, answering "saturated" is kinder
MAX_BACKGROUND = 64  # background texts waiting; more are refused, the store dropped and counted
MAX_BATCH_SECONDS = 0.012  # bounds a batch, so the callers that arrive during it wait at most this
BACKGROUND_BATCH_SECONDS = 0.004  # a lookup arriving during a background batch waits at most this
BACKGROUND_AFTER_IDLE = 0.05  # seconds without a waiting caller before background texts run
FIRST_COST_GUESS = 0.003  # seconds per text until measured (ONNX int8, one core, short texts)
MAX_TEXT_CHARS = 8192  # the model reads 256 tokens; longer texts are cut by the tokenizer anyway


@dataclass(order=True)
class _Job:
    deadline: float
    order: int
    text: str = field(compare=False)
    reply: "asyncio.StreamWriter" = field(compare=False)
    request_id: int = field(compare=False)
    backend: str = field(compare=False)


class EmbeddingService:
    def __init__(self, address: Address, *, backend: str | None = None, max_queued: int = MAX_QUEUED,
                 max_batch_seconds: float = MAX_BATCH_SECONDS) -> None:
        self.address = address
        self.max_batch_seconds = max_batch_seconds
        self.backend = backend or embedder.default_backend()
        # EXACT requests (/v1/embeddings) need vectors that do not depend on the batch: the
        # fp32 model, loaded on the first such request, unless the service's model is exact.
        self.exact_backend = self.backend if self.backend in embedder.EXACT_BACKENDS else "onnx"
        self.max_queued = max_queued
        self.ready = False
        self.queue: list[_Job] = []  # callers waiting, earliest deadline first
        self.background: deque[_Job] = deque()
        self.busy_until = 0.0  # when the batch being encoded should end (monotonic)
        self.last_caller_at = 0.0  # when a waiting caller last asked (monotonic)
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
                    self.backend, time.monotonic() - started)
        loop.create_task(self._batch_loop())

    async def aclose(self) -> None:
        if self.server is not None:
            self.server.close()
        self.inference.shutdown(wait=False, cancel_futures=True)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_id, text, budget_ms, *kind = await read_frame(reader)
                self._accept(request_id, text, budget_ms, writer, kind=kind[0] if kind else LOOKUP)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the worker went away
        except (ValueError, TypeError) as exc:
            logger.warning("closing a connection that sent a malformed frame: %s", exc)
        finally:
            writer.close()

    def _accept(self, request_id: int, text: str | None, budget_ms: float, writer: asyncio.StreamWriter,
                *, kind: str = LOOKUP) -> None:
        if text is None:
            return self._answer(writer, request_id, OK if self.ready else WARMING)
        if not self.ready:
            return self._answer(writer, request_id, WARMING)
        if len(text) > MAX_TEXT_CHARS or len(text.encode()) > MAX_FRAME:
            return self._answer(writer, request_id, TOO_LONG)
        backend = self.exact_backend if kind == EXACT else self.backend
        job = _Job(time.monotonic() + budget_ms / 1000, next(self.order), text, writer, request_id, backend)
        if kind == BACKGROUND:
            if len(self.background) >= MAX_BACKGROUND:
                return self._answer(writer, request_id, SATURATED)
            self.background.append(job)
        else:
            self.last_caller_at = time.monotonic()
            if len(self.queue) >= self.max_queued or self._cannot_make(job.deadline):
                return self._answer(writer, request_id, SATURATED)
            heapq.heappush(self.queue, job)
        self.wake.set()

    def _cannot_make(self, deadline: float) -> bool:
        """True if the batch being encoded and the waiting jobs due before this one (plus it)
        cannot be done by its deadline."""
        ahead = sum(1 for job in self.queue if job.deadline <= deadline)
        return max(time.monotonic(), self.busy_until) + (ahead + 1) * self.cost_per_text > deadline

    async def _batch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._await_work()
            while batch := self._next_batch():
                for backend in dict.fromkeys(job.backend for job in batch):
                    await self._aencode(loop, backend, [job for job in batch if job.backend == backend])

    async def _aencode(self, loop: asyncio.AbstractEventLoop, backend: str, batch: list[_Job]) -> None:
        texts = list(dict.fromkeys(job.text for job in batch))  # each text once
        started = time.monotonic()
        self.busy_until = started + len(texts) * self.cost_per_text
        try:
            vectors = await loop.run_in_executor(self.inference, embedder.embed_sync, texts, backend)
        except Exception:  # the service must survive any failure of the model
            logger.exception("embedding a batch of %d texts failed", len(texts))
            for job in batch:
                self._answer(job.reply, job.request_id, FAILED)
            return
        if backend == self.backend:  # the cost admission counts on is the lookups' model's
            cost = (time.monotonic() - started) / len(texts)
            self.cost_per_text = 0.8 * self.cost_per_text + 0.2 * cost
        self.batches += 1
        self.texts += len(texts)
        by_text = {text: array("f", vector).tobytes() for text, vector in zip(texts, vectors)}
        for job in batch:
            self._answer(job.reply, job.request_id, OK, by_text[job.text])

    async def _await_work(self) -> None:
        """Until a caller waits, or background texts may run (no caller for a while)."""
        while True:
            if self.queue:
                return
            if self.background:
                quiet_for = time.monotonic() - self.last_caller_at
                if quiet_for >= BACKGROUND_AFTER_IDLE:
                    return
                try:
                    await asyncio.wait_for(self.wake.wait(), BACKGROUND_AFTER_IDLE - quiet_for)
                except TimeoutError:
                    pass
            else:
                await self.wake.wait()
            self.wake.clear()

    def _next_batch(self) -> list[_Job]:
        """The queued jobs whose callers still wait, earliest deadline first, as many as can
        be encoded before the first of them stops waiting, and no longer than
        MAX_BATCH_SECONDS (at least one); when no caller waits, a short batch of background
        texts (BACKGROUND_BATCH_SECONDS) once no caller has asked for BACKGROUND_AFTER_IDLE,
        so a lookup that arrives meanwhile is not held."""
        now, batch = time.monotonic(), []
        while self.queue and len(batch) < embedder.MAX_BATCH:
            job = self.queue[0]
            finish = now + (len(batch) + 1) * self.cost_per_text
            if batch and finish > min(batch[0].deadline, now + self.max_batch_seconds):
                break
            heapq.heappop(self.queue)
            self._take(job, now, batch)
        if not batch and now - self.last_caller_at >= BACKGROUND_AFTER_IDLE:
            while self.background and (not batch or (len(batch) + 1) * self.cost_per_text <= BACKGROUND_BATCH_SECONDS):
                self._take(self.background.popleft(), now, batch)
        return batch

    def _take(self, job: _Job, now: float, batch: list[_Job]) -> None:
        if now + self.cost_per_text > job.deadline:
            self._answer(job.reply, job.request_id, LATE)
        elif not job.reply.is_closing():
            batch.append(job)

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

"""The semantic cache: answers found by the meaning of the final user message.

A lookup embeds the final user message (the machine's embedding service, within a budget
of GATEWAY_SEMANTIC_LOOKUP_BUDGET_MS; when it is busy, warming or down the lookup is skipped and counted),
asks Postgres for the nearest stored questions *within the same scope and namespace*,
and serves one only if verifier.same_meaning accepts it: cosine alone cannot tell
"Celsius to Fahrenheit" from "Fahrenheit to Celsius". The scope (every other part of the
request, hashed) and the namespace are equality filters, so nothing is ever compared
across conversations, models, parameters or tenants.

Query plan: the (scope, namespace) B-tree usually narrows a lookup to a handful of rows,
which Postgres then sorts exactly; when one scope holds many rows the HNSW index wins,
and `hnsw.iterative_scan` keeps it scanning until the filters have let enough rows
through (pgvector >= 0.8) instead of returning fewer than asked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import time
import weakref
from dataclasses import dataclass
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from apps.cache import counters, tasks
from apps.cache.embedding_client import EmbedderClient, EmbedSkipped, probe
from apps.cache.embedding_protocol import BACKGROUND
from apps.cache.models import SemanticCacheEntry
from apps.cache.policy import SemanticQuery
from apps.cache.verifier import same_meaning
from apps.cache.wording import word_frequencies
from apps.stats import metrics
from gateway_site import runtime
from gateway_site.db import close_stale_connection
from gateway_site.gateway_config import get_config
from gateway_site.quiet_log import QuietLog

logger = logging.getLogger("gateway.cache")

TABLE = SemanticCacheEntry._meta.db_table
CANDIDATES = 4  # the nearest few: a near-miss may sit closer than the true paraphrase
QUERY_BUDGET = 0.25  # seconds; the query takes 2-4 ms, a stalled database must not hold requests
STORE_BUDGET = 2.0  # a store's text waits this long for idle time in the embedding service
MAX_QUEUED_STORES = 1000
STORE_EMBEDS_IN_FLIGHT = 32  # stores waiting for a vector of their own (their lookup was skipped)
INSERT_BATCH = 100  # rows per INSERT
STATE_TTL = 60.0  # seconds an availability check is trusted
FAILED_STATE_TTL = 5.0  # a database blip must not disable the cache for long
NEAREST_SQL = f"""
    SELECT question, completion, embedding <=> %(vector)s::vector AS distance
    FROM {TABLE}
    WHERE scope = %(scope)s AND namespace = %(namespace)s AND expires_at > now()
    ORDER BY distance
    LIMIT %(limit)s
"""


@dataclass
class SemanticHit:
    completion: dict[str, Any]
    similarity: float
    question: str


# --- availability ----------------------------------------------------------------

class SemanticState:
    """What this process knows of the semantic cache's health: a part of its runtime
    (gateway_site/runtime.py)."""

    def __init__(self) -> None:
        self.checked: tuple[float, str | None] | None = None  # (when, reason it is unavailable)
        self.inserts_since_prune = 0


def _state() -> SemanticState:
    return runtime.part(SemanticState)


def semantic_cache_state() -> str:
    """For /health: "enabled" or "disabled: <reason>"."""
    if not get_config().cache.semantic_enabled:
        return "disabled: cache.semantic.enabled is false in gateway.yaml"
    reason = unavailable_reason()
    if reason:
        return f"disabled: {reason}"
    embedder_state = embedder_status()
    if embedder_state == "ok":
        return "enabled"
    if embedder_state == "warming":
        return "warming: the embedding service is loading its model"
    return f"disabled: embedding service unavailable at {settings.GATEWAY_EMBEDDER_URL}"


def embedder_status() -> str:
    """"ok", "warming" or "unavailable", asked of the service (blocking, bounded)."""
    return probe()


def unavailable_reason() -> str | None:
    """Why the semantic cache cannot work here, or None. Cached: it is asked per request."""
    state = _state()
    if not _fresh(state):
        state.checked = (time.monotonic(), _check_database())
    return state.checked[1]


def _fresh(state: SemanticState) -> bool:
    if state.checked is None:
        return False
    return time.monotonic() - state.checked[0] <= (STATE_TTL if state.checked[1] is None else FAILED_STATE_TTL)


def forget_state() -> None:
    """Re-check availability on next use (after a migration)."""
    state = _state()
    state.checked = None


def _check_database() -> str | None:
    if connection.vendor != "postgresql":
        return "needs PostgreSQL with the pgvector extension"
    try:
        close_stale_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
            if cursor.fetchone() is None:
                return "the vector extension (pgvector) is not installed in this database"
            cursor.execute("SELECT to_regclass(%s)", [TABLE])
            if cursor.fetchone()[0] is None:
                return "its table is missing: run manage.py migrate gateway_cache zero, then migrate"
    except DatabaseError as exc:
        return f"database unavailable ({exc.__class__.__name__})"
    return None


async def aavailable() -> bool:
    state = _state()
    if _fresh(state):
        return state.checked[1] is None  # the common case: no thread hop
    return await sync_to_async(unavailable_reason, thread_sensitive=False)() is None


def _suspend(reason: str) -> None:
    """Treat the cache as unavailable until the next check (FAILED_STATE_TTL)."""
    _state().checked = (time.monotonic(), reason)
    runtime.part(QuietLog).warning(
        logger, "semantic_suspended", "semantic cache suspended for %.0f s: %s", FAILED_STATE_TTL, reason,
    )


# --- lookup ------------------------------------------------------------------------

_tuned: weakref.WeakSet = weakref.WeakSet()  # DB connections that got our session settings


def _tune_session(cursor) -> None:
    raw = connection.connection
    if raw in _tuned:
        return
    cursor.execute("SET hnsw.iterative_scan = relaxed_order")
    _tuned.add(raw)


def vector_literal(embedding: list[float]) -> str:
    return "[" + ",".join(map(str, embedding)) + "]"


def nearest(query: SemanticQuery, limit: int = CANDIDATES) -> list[tuple[str, Any, float]]:
    """(question, completion, similarity) of the nearest live entries of the query's scope."""
    close_stale_connection()
    params = {"vector": vector_literal(query.embedding), "scope": query.scope, "namespace": query.namespace, "limit": limit}
    with connection.cursor() as cursor:
        _tune_session(cursor)
        cursor.execute(NEAREST_SQL, params)
        rows = cursor.fetchall()
    # relaxed_order may return rows slightly out of order
    return sorted(((question, completion, 1.0 - distance) for question, completion, distance in rows), key=lambda r: -r[2])


def _find(query: SemanticQuery) -> SemanticHit | None:
    for question, completion, similarity in nearest(query):
        if same_meaning(query.text, question, similarity=similarity, threshold=query.threshold):
            if isinstance(completion, (str, bytes)):
                completion = orjson.loads(completion)
            return SemanticHit(completion=completion, similarity=similarity, question=question)
    return None


def wait_for_embedder(timeout: float = 120.0) -> bool:
    """Blocks until the embedding service answers (tests, benchmarks); True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe() == "ok":
            word_frequencies()  # the verifier's dictionary (~0.5 s): not inside a lookup's budget
            return True
        time.sleep(0.1)
    return False


async def awarm_up() -> None:
    """At a worker's start, when the semantic cache is on: connect to the embedding service
    and load the verifier's dictionary (~0.5 s), so the first lookups find both ready."""
    if not get_config().cache.semantic_enabled:
        return
    await runtime.part(EmbedderClient).aping()
    await sync_to_async(word_frequencies, thread_sensitive=False)()


async def aembed_query(query: SemanticQuery, *, budget: float) -> bool:
    """Fills query.embedding for a lookup; False (the skip counted) when no vector came
    within `budget`."""
    if query.embedding is not None:
        return True
    try:
        query.embedding = await runtime.part(EmbedderClient).aembed(query.text, budget=budget)
    except EmbedSkipped as skipped:
        metrics.child(metrics.SEMANTIC_SKIPPED, skipped.reason).inc()
        return False
    return True


async def alookup(query: SemanticQuery) -> SemanticHit | None:
    if not await aembed_query(query, budget=settings.GATEWAY_SEMANTIC_LOOKUP_BUDGET):
        return None
    metrics.SEMANTIC_LOOKUPS.inc()
    try:
        async with asyncio.timeout(QUERY_BUDGET):
            hit = await sync_to_async(_find, thread_sensitive=False)(query)
    except (DatabaseError, TimeoutError) as exc:
        # A dead or stalled database must not hold requests: skip the cache for a while.
        _suspend(f"database unavailable ({exc.__class__.__name__})")
        return None
    tasks.spawn(counters.acount_lookup(hit=hit is not None, similarity=hit.similarity if hit else 0.0))
    return hit


# --- store and bounds ---------------------------------------------------------------

def _insert_rows(stores: list[tuple[SemanticQuery, dict[str, Any]]]) -> None:
    """One INSERT for a batch of stores (a store per request cost a thread hop, the ORM and
    a transaction each: most of a worker's time spent on the semantic cache under load)."""
    close_stale_connection()
    now = timezone.now()
    SemanticCacheEntry.objects.bulk_create([
        SemanticCacheEntry(namespace=query.namespace, scope=query.scope, question=query.text, embedding=query.embedding,
                           completion=completion, created_at=now, expires_at=now + dt.timedelta(seconds=query.ttl))
        for query, completion in stores
    ])
    max_entries = get_config().cache.max_entries
    state = _state()
    state.inserts_since_prune += len(stores)
    # Pruning costs a scan of the id index; every ~1% of the bound keeps the table within it.
    if state.inserts_since_prune >= max(1, min(100, max_entries // 100)):
        state.inserts_since_prune = 0
        semantic_prune(max_entries=max_entries)


def semantic_prune(*, max_entries: int) -> int:
    """Deletes expired entries, then the oldest beyond max_entries. Returns rows deleted."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE expires_at <= now()")
        deleted = cursor.rowcount
        cursor.execute(
            f"DELETE FROM {TABLE} WHERE id <= (SELECT id FROM {TABLE} ORDER BY id DESC OFFSET %s LIMIT 1)",
            [max_entries],
        )
        return deleted + cursor.rowcount


class SemanticStoreQueue:
    """Answers on their way into the semantic cache: a part of the process's runtime.

    A store whose lookup was embedded reuses that vector and waits only for the next batch
    INSERT (one writer task, up to INSERT_BATCH rows a statement). A store whose lookup was
    skipped asks the embedding service for its vector as background work (embedded only
    with time no lookup needs; at most STORE_EMBEDS_IN_FLIGHT at once), so under load it
    is dropped rather than taking the service from lookups. Bounded (MAX_QUEUED_STORES),
    one entry per (namespace, scope, text); drops are counted in
    gateway_semantic_stores_dropped_total{reason}, never logged one by one."""

    def __init__(self) -> None:
        self.ready: dict[tuple[str, str, str], tuple[SemanticQuery, dict[str, Any]]] = {}
        self.embedding: set[tuple[str, str, str]] = set()
        self.writing = False

    def put(self, query: SemanticQuery, completion: dict[str, Any]) -> None:
        key = (query.namespace, query.scope, query.text)
        if key in self.ready or key in self.embedding:
            return  # the same question is already on its way into the cache
        if len(self.ready) + len(self.embedding) >= MAX_QUEUED_STORES:
            metrics.child(metrics.SEMANTIC_STORES_DROPPED, "queue_full").inc()
        elif query.embedding is not None:
            self._ready(key, query, completion)
        elif len(self.embedding) >= STORE_EMBEDS_IN_FLIGHT:
            metrics.child(metrics.SEMANTIC_STORES_DROPPED, "no_vector").inc()  # the service is behind already
        else:
            self.embedding.add(key)
            tasks.spawn(self._aembed(key, query, completion), bounded=False)

    def _ready(self, key, query: SemanticQuery, completion: dict[str, Any]) -> None:
        self.ready[key] = (query, completion)
        if not self.writing:
            self.writing = True
            tasks.spawn(self._awrite(), bounded=False)

    async def _aembed(self, key, query: SemanticQuery, completion: dict[str, Any]) -> None:
        try:
            query.embedding = await runtime.part(EmbedderClient).aembed(query.text, budget=STORE_BUDGET, kind=BACKGROUND)
        except EmbedSkipped:
            metrics.child(metrics.SEMANTIC_STORES_DROPPED, "no_vector").inc()
            return
        finally:
            self.embedding.discard(key)
        self._ready(key, query, completion)

    async def _awrite(self) -> None:
        try:
            while self.ready:
                keys = list(itertools.islice(self.ready, INSERT_BATCH))
                stores = [self.ready.pop(key) for key in keys]
                if not await aavailable():
                    metrics.child(metrics.SEMANTIC_STORES_DROPPED, "database").inc(len(stores))
                    continue
                try:
                    await sync_to_async(_insert_rows, thread_sensitive=False)(stores)
                except DatabaseError as exc:
                    metrics.child(metrics.SEMANTIC_STORES_DROPPED, "database").inc(len(stores))
                    runtime.part(QuietLog).warning(logger, "semantic_store_failed", "semantic store failed: %r", exc)
                except Exception as exc:  # a store must never take the worker's writer down
                    metrics.child(metrics.SEMANTIC_STORES_DROPPED, "failed").inc(len(stores))
                    runtime.part(QuietLog).warning(logger, "semantic_store_error", "semantic store failed: %r", exc)
        finally:
            self.writing = False


def enqueue_store(query: SemanticQuery, completion: dict[str, Any]) -> None:
    """Queues a store; returns at once (must run on the event loop)."""
    runtime.part(SemanticStoreQueue).put(query, completion)


# --- administration ------------------------------------------------------------------


def semantic_clear(*, namespace: str | None = None) -> int:
    """Deletes every entry (or one namespace's); returns how many. Lookups running at the
    same time simply miss: a plain DELETE, no TRUNCATE lock in their way."""
    if unavailable_reason() is not None:
        return 0
    with connection.cursor() as cursor:
        if namespace is None:
            cursor.execute(f"DELETE FROM {TABLE}")
        else:
            cursor.execute(f"DELETE FROM {TABLE} WHERE namespace = %s", [namespace])
        return cursor.rowcount


def semantic_table_stats() -> dict[str, int]:
    """Rows in the table and bytes of its HNSW index (0 and 0 when disabled)."""
    if unavailable_reason() is not None:
        return {"rows": 0, "index_bytes": 0}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), pg_relation_size('semcache_embedding_hnsw') FROM {TABLE}")
        rows, index_bytes = cursor.fetchone()
    return {"rows": rows, "index_bytes": index_bytes}

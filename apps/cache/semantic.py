"""The semantic cache: answers found by the meaning of the final user message.

A lookup embeds the final user message (embedder.aembed, off the event loop, batched),
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
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from django.db import DatabaseError, connection
from django.utils import timezone

from apps.cache import counters, tasks
from apps.cache import embedder
from apps.cache.embedder import aembed
from apps.cache.models import SemanticCacheEntry
from apps.cache.policy import SemanticQuery
from apps.cache.verifier import same_meaning
from apps.cache.wording import word_frequencies
from gateway_site import runtime
from gateway_site.db import close_stale_connection
from gateway_site.gateway_config import get_config
from gateway_site.quiet_log import QuietLog

logger = logging.getLogger("gateway.cache")

TABLE = SemanticCacheEntry._meta.db_table
CANDIDATES = 4  # the nearest few: a near-miss may sit closer than the true paraphrase
QUERY_BUDGET = 0.25  # seconds; the query takes 2-4 ms, a stalled database must not hold requests
STATE_TTL = 60.0  # seconds an availability check is trusted
BROKEN_RETRY = 300.0  # seconds before an embedding model that failed is tried again
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
        self.broken: tuple[float, str] | None = None  # (when, why) this process could not embed
        self.model_ready = False  # the embedding model answered in this process
        self.model_loading = False
        self.inserts_since_prune = 0
        self.lock = threading.Lock()


def _state() -> SemanticState:
    return runtime.part(SemanticState)


def semantic_cache_state() -> str:
    """For /health: "enabled" or "disabled: <reason>"."""
    if not get_config().cache.semantic_enabled:
        return "disabled: cache.semantic.enabled is false in gateway.yaml"
    reason = unavailable_reason()
    return f"disabled: {reason}" if reason else "enabled"


def unavailable_reason() -> str | None:
    """Why the semantic cache cannot work here, or None. Cached: it is asked per request."""
    state = _state()
    if not _fresh(state):
        state.checked = (time.monotonic(), _broken_reason(state) or _check_database())
    return state.checked[1]


def _fresh(state: SemanticState) -> bool:
    if state.checked is None:
        return False
    return time.monotonic() - state.checked[0] <= (STATE_TTL if state.checked[1] is None else FAILED_STATE_TTL)


def forget_state() -> None:
    """Re-check availability on next use (after a migration)."""
    state = _state()
    state.checked, state.broken = None, None


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


def _mark_broken(reason: str) -> None:
    state = _state()
    state.broken, state.checked = (time.monotonic(), reason), None
    logger.error("semantic cache disabled in this process for %.0f s: %s", BROKEN_RETRY, reason)


def _broken_reason(state: SemanticState) -> str | None:
    if state.broken is not None and time.monotonic() - state.broken[0] > BROKEN_RETRY:
        state.broken = None  # try the model again: the failure may have been passing
        state.model_loading = False
    return state.broken[1] if state.broken else None


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


def model_ready() -> bool:
    """True once the embedding model answered in this process. The first call starts
    loading it in a thread (about 5 s): until then lookups are skipped, never waited on."""
    state = _state()
    if state.model_ready:
        return True
    with state.lock:
        if not state.model_loading:
            state.model_loading = True
            threading.Thread(target=load_model, args=(state,), name="semantic-warm-up", daemon=True).start()
    return False


def load_model(state: SemanticState | None = None) -> None:
    """Loads the model now (blocking); the semantic cache is usable afterwards."""
    state = state or _state()
    if state.model_ready:
        return
    try:
        embedder.warm_up()
    except Exception as exc:
        _mark_broken(f"embedding model unavailable ({exc!r})")
        return
    # The verifier's dictionary takes ~0.5 s to read: here, not inside a lookup's budget.
    word_frequencies()
    state.model_ready = True


async def aembed_query(query: SemanticQuery, *, wait_for_model: bool = True) -> bool:
    if query.embedding is not None:
        return True
    if not wait_for_model and not model_ready():
        return False
    try:
        query.embedding = await aembed(query.text)
    except Exception as exc:  # a missing or broken model must not fail requests
        _mark_broken(f"embedding model unavailable ({exc!r})")
        return False
    return True


async def alookup(query: SemanticQuery) -> SemanticHit | None:
    if not await aembed_query(query, wait_for_model=False):
        return None
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

def _insert(query: SemanticQuery, completion: dict[str, Any]) -> None:
    close_stale_connection()
    now = timezone.now()
    SemanticCacheEntry.objects.create(
        namespace=query.namespace, scope=query.scope, question=query.text, embedding=query.embedding,
        completion=completion, created_at=now, expires_at=now + dt.timedelta(seconds=query.ttl),
    )
    max_entries = get_config().cache.max_entries
    state = _state()
    state.inserts_since_prune += 1
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


async def astore(query: SemanticQuery, completion: dict[str, Any]) -> None:
    if not await aembed_query(query):
        return
    try:
        await sync_to_async(_insert, thread_sensitive=False)(query, completion)
    except DatabaseError as exc:
        logger.warning("semantic store failed: %r", exc)


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

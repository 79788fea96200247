"""Which caches a request may read and write, decided once per request.

Switches, strongest first:
- a key whose cache namespace is "none" never uses a cache (set it in the admin console);
- `cache.exact.enabled` / `cache.semantic.enabled` in gateway.yaml;
- per model, `cache.models.<model>`: `exact: false`, `semantic: false`, `ttl` (both caches),
  `exact_ttl`, `semantic_ttl`, `max_temperature`;
- per request, `Cache-Control: no-cache` (no read) and `no-store` (no read, no write).

The semantic cache is skipped when sampling is hotter than `cache.semantic.max_temperature`.
A request without `temperature` samples at the provider's default, which is 1.0 for
OpenAI, Anthropic and Gemini, so it is treated as 1.0: an answer meant to vary is not
handed to someone else who asked a different question.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apps.cache import canonical
from gateway_site.gateway_config import CacheSettings

NO_CACHE_NAMESPACE = "none"
PROVIDER_DEFAULT_TEMPERATURE = 1.0
# MiniLM reads 256 word pieces; the verifier reads every word. Past this length a
# semantic lookup costs more than it is likely to save.
MAX_SEMANTIC_CHARS = 2000


@dataclass(frozen=True)
class CacheQuery:
    """What the caches need to know of a request; the caller builds it."""

    payload: dict[str, Any]  # the OpenAI-shaped request body
    model: str
    namespace: str  # the key's cache namespace
    read: bool = True  # Cache-Control: no-cache / no-store turn these off
    write: bool = True


@dataclass
class SemanticQuery:
    text: str
    scope: str
    namespace: str
    ttl: int
    threshold: float
    embedding: list[float] | None = None  # computed by the lookup, reused by the store


@dataclass
class CachePlan:
    namespace: str
    exact_key: str | None  # None: the exact cache is off for this request
    exact_read: bool
    exact_write: bool
    exact_ttl: int
    semantic: SemanticQuery | None  # None: the semantic cache is off for this request
    semantic_read: bool
    semantic_write: bool
    exact_prefetch: Any = None  # the exact cache's GET, if sent ahead (services.acache_prefetch)

    @property
    def idle(self) -> bool:
        return not (self.exact_read or self.exact_write or self.semantic_read or self.semantic_write)


def _override(overrides: Mapping[str, Any], name: str, default: Any, kind: type, *, minimum: float = 1) -> Any:
    value = overrides.get(name, default)
    if kind is bool:
        return value if isinstance(value, bool) else default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
        return default  # gateway_config refuses bad values in the file; one set in code falls back
    return kind(value)


def _temperature(payload: dict[str, Any]) -> float:
    value = payload.get("temperature")
    return PROVIDER_DEFAULT_TEMPERATURE if value is None else float(value)


def _semantic_query(query: CacheQuery, settings: CacheSettings, model: Mapping[str, Any]) -> SemanticQuery | None:
    if not (settings.semantic_enabled and _override(model, "semantic", True, bool)):
        return None
    if _temperature(query.payload) > _override(model, "max_temperature", settings.max_temperature, float, minimum=0):
        return None
    text = canonical.final_user_text(query.payload)
    if not text or not text.strip() or len(text) > MAX_SEMANTIC_CHARS:
        return None
    ttl = _override(model, "semantic_ttl", _override(model, "ttl", settings.semantic_ttl, int), int)
    namespace = query.namespace
    scope = canonical.semantic_scope(query.payload, namespace=namespace)
    return SemanticQuery(text=text, scope=scope, namespace=namespace, ttl=ttl, threshold=settings.similarity_threshold)


def plan_for(query: CacheQuery, settings: CacheSettings) -> CachePlan:
    namespace = query.namespace
    if namespace == NO_CACHE_NAMESPACE or not (query.read or query.write):
        return CachePlan(namespace, None, False, False, 0, None, False, False)
    model = settings.model_overrides.get(query.model) or {}
    exact_on = settings.exact_enabled and _override(model, "exact", True, bool)
    key = canonical.exact_key(query.payload, namespace=namespace) if exact_on else None
    exact_ttl = _override(model, "exact_ttl", _override(model, "ttl", settings.exact_ttl, int), int)
    semantic = _semantic_query(query, settings, model)
    return CachePlan(
        namespace=namespace,
        exact_key=key,
        exact_read=exact_on and query.read,
        exact_write=exact_on and query.write,
        exact_ttl=exact_ttl,
        semantic=semantic,
        semantic_read=semantic is not None and query.read,
        semantic_write=semantic is not None and query.write,
    )


def embedding_plan_for(query: CacheQuery, settings: CacheSettings) -> CachePlan:
    """Embeddings use the exact cache only: a near-identical text has a different vector."""
    namespace = query.namespace
    exact_on = settings.exact_enabled and namespace != NO_CACHE_NAMESPACE and (query.read or query.write)
    if not exact_on:
        return CachePlan(namespace, None, False, False, 0, None, False, False)
    key = canonical.embedding_exact_key(query.payload, namespace=namespace)
    return CachePlan(namespace, key, query.read, query.write, settings.exact_ttl, None, False, False)

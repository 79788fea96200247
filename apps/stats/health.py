"""Health checks: small functions, each answering one question about one dependency."""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import connection

from gateway_site import runtime
from gateway_site.breaker import provider_breakers
from gateway_site.errors import utc_timestamp
from gateway_site.gateway_config import LOCAL_PROTOCOL, ConfigError, get_config
from gateway_site.redis_topology import sync_redis

HEALTH_REDIS_TIMEOUT = 0.5  # seconds: a dead Redis must not hang a Kubernetes probe


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "connected"
    except Exception:
        connection.close()  # a broken connection must not be reused by the next check
        return "disconnected"


def check_redis() -> str:
    if not settings.REDIS_URL:
        return "not_configured"
    try:
        client = sync_redis(
            settings.REDIS_URL, socket_timeout=HEALTH_REDIS_TIMEOUT, socket_connect_timeout=HEALTH_REDIS_TIMEOUT
        )
        try:
            client.ping()
        finally:
            client.close()
        return "connected"
    except redis.RedisError:
        return "disconnected"


def check_config() -> bool:
    try:
        get_config()
        return True
    except ConfigError:
        return False


def check_providers() -> dict[str, str]:
    try:
        providers = get_config().providers
    except ConfigError:
        return {}
    result = {}
    for name, provider in providers.items():
        if not provider.api_key and provider.protocol != LOCAL_PROTOCOL:  # the local model needs no key
            result[name] = "not_configured"
        elif provider_breakers().is_open(name):
            result[name] = "unavailable"
        else:
            result[name] = "available"
    return result


def check_deployments() -> dict[str, list[dict[str, str]]]:
    """Models with several deployments: each deployment's provider and breaker state."""
    try:
        deployments = get_config().deployments
    except ConfigError:
        return {}
    breakers = provider_breakers()
    return {
        model: [{"provider": route.provider.name, "upstream_model": route.upstream_model,
                 "breaker": breakers.state(route.provider.name)} for route in routes]
        for model, routes in deployments.items()
    }


def overall_health() -> tuple[str, dict]:
    database = check_database()
    redis_state = check_redis()
    providers = check_providers()
    if database != "connected" or not check_config():
        status = "unhealthy"
    elif redis_state == "disconnected" or "unavailable" in providers.values():
        status = "degraded"
    else:
        status = "healthy"
    services = {"redis": redis_state, "database": database, "providers": providers}
    deployments = check_deployments()
    if deployments:
        services["deployments"] = deployments
    semantic = _semantic_cache_state()
    if semantic is not None:
        services["semantic_cache"] = semantic
    return status, {"status": status, "timestamp": utc_timestamp(), "services": services, "version": settings.GATEWAY_VERSION}


def _semantic_cache_state() -> str | None:
    try:
        from apps.cache.semantic import semantic_cache_state
    except ImportError:
        return None
    return semantic_cache_state()


def check_embedder_warm() -> bool:
    """False while the semantic cache is on and the embedding service is not answering yet,
    for at most GATEWAY_EMBEDDER_WARMUP_TIMEOUT after this worker started: then the gateway
    serves without the semantic cache rather than never becoming ready."""
    try:
        if not get_config().cache.semantic_enabled:
            return True
    except ConfigError:
        return True
    if time.monotonic() - runtime.runtime().started > settings.GATEWAY_EMBEDDER_WARMUP_TIMEOUT:
        return True
    from apps.cache.semantic import embedder_status

    return embedder_status() == "ok"

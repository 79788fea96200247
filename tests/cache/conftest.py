"""Fixtures for the cache tests: requests as the completion path sees them, a served
gateway for end-to-end checks, and a clean slate of process state between tests.

Every test works in namespaces of its own (uuid), so tests sharing one Redis or one
database never see each other's entries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from apps.cache import semantic, tasks
from apps.completions.validation import ChatRequest, parse_chat_request
from apps.keys.registry import KeyInfo
from gateway_site import fast_redis, gateway_config
from tests.gateway_server import GatewayServer

def key_info(namespace: str, key_id: int = 1) -> KeyInfo:
    return KeyInfo(
        id=key_id, name=f"tester-{key_id}", prefix="pgw-test", key_hash="0" * 64, is_admin=False, rpm=None,
        tpm=None, allowed_models=frozenset(), namespace=namespace, expires_at=None, revoked=False,
    )


def ask(text: str, **fields: Any) -> dict[str, Any]:
    """A chat request body with `text` as the final user message."""
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **fields}


def chat_request(payload: dict[str, Any], *, namespace: str, cache_control: str = "", key_id: int = 1) -> ChatRequest:
    import orjson

    return parse_chat_request(
        orjson.dumps(payload), key=key_info(namespace, key_id), config=gateway_config.get_config(),
        request_id="req_" + uuid.uuid4().hex[:24], headers={"cache-control": cache_control},
    )


def run(coro):
    """Runs a coroutine on a fresh loop and waits for the cache writes it started."""

    async def main():
        try:
            result = await coro
            await tasks.adrain()
            return result
        finally:
            # Redis connections belong to their loop; this one is about to close.
            await fast_redis.close_fast_redis()

    return asyncio.run(main())


def answer(text: str = "Paris is the capital of France.") -> dict[str, Any]:
    return {
        "id": "chatcmpl-upstream", "object": "chat.completion", "created": 1700000000, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15},
    }


def remember(payload: dict[str, Any], *, namespace: str, text: str = "Paris is the capital of France.",
             cache_control: str = "") -> None:
    """What the completion path does on a miss: look up, then store the upstream's answer."""
    from apps.cache.services import acache_lookup, cache_store

    semantic.wait_for_embedder()  # lookups skip the semantic cache while the service loads

    chat = chat_request(payload, namespace=namespace, cache_control=cache_control)

    async def miss_then_store():
        await acache_lookup(chat.cache, completion_id=chat.completion_id)
        cache_store(chat.cache, answer(text))

    run(miss_then_store())


def recall(payload: dict[str, Any], *, namespace: str, cache_control: str = ""):
    """The CachedAnswer a request would be served, or None."""
    from apps.cache.services import acache_lookup

    semantic.wait_for_embedder()

    chat = chat_request(payload, namespace=namespace, cache_control=cache_control)
    return run(acache_lookup(chat.cache, completion_id=chat.completion_id))


@pytest.fixture
def namespace() -> str:
    return f"ns-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def other_namespace() -> str:
    return f"ns-{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
def _fresh_cache_state():
    yield
    semantic.forget_state()


@pytest.fixture
def cache_settings() -> Callable[..., None]:
    """Changes cache settings of the running config for one test: cache_settings(max_entries=3)."""
    original = gateway_config.get_config()

    def change(**fields: Any) -> None:
        config = gateway_config.get_config()
        gateway_config.set_config(dataclasses.replace(config, cache=dataclasses.replace(config.cache, **fields)))

    yield change
    gateway_config.set_config(original)


@pytest.fixture
def key_for(transactional_db) -> Callable[..., str]:
    """A real API key (raw) for the served gateway: key_for(namespace="shared")."""
    from apps.keys.services import key_create

    def make(namespace: str = "", *, admin: bool = False) -> str:
        _, raw = key_create(name=f"cache-tester-{uuid.uuid4().hex[:6]}", is_admin=admin, rpm=100_000, cache_namespace=namespace)
        return raw

    return make


@pytest.fixture(scope="session")
def gateway(django_db_setup, fake_upstream, tmp_path_factory) -> GatewayServer:
    """One served gateway (uvicorn, real settings) on the test database, fake upstream,
    Redis from REDIS_URL, and a config whose providers are not retried (quick failures)."""
    from tests.conftest import needs_redis

    needs_redis()
    config = tmp_path_factory.mktemp("config") / "gateway.yaml"
    config.write_text(_config_without_retries())
    with GatewayServer({"GATEWAY_CONFIG": str(config)}) as server:
        yield server


def _config_without_retries() -> str:
    import yaml
    from gateway_site import gateway_config

    raw = yaml.safe_load(open(gateway_config.config_path()))
    raw["defaults"]["retries"]["max_attempts"] = 1
    for model in raw["models"].values():
        model.pop("fallbacks", None)
    return yaml.safe_dump(raw)



"""Shared by the limiter tests: a clean limiter per backend and a key of our own."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from django.test import override_settings

from apps.keys import limiter
from apps.keys.registry import KeyInfo

T0 = 1_700_000_000_000  # an arbitrary instant, in ms: the tests drive the clock


def make_key(*, rpm: int | None = None, tpm: int | None = None, key_id: int = 1) -> KeyInfo:
    return KeyInfo(
        id=key_id, name="limiter-test", prefix="pgw-limtest", key_hash=uuid.uuid4().hex * 2, is_admin=False,
        rpm=rpm, tpm=tpm, allowed_models=frozenset(), namespace="", expires_at=None, revoked=False,
    )


def run(coroutine):
    return asyncio.run(coroutine)


@pytest.fixture(params=["redis", "in_process"])
def backend(request):
    """The Redis script and the in-process fallback must behave identically."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
    else:
        url = ""
    key_ids: list[str] = []
    with override_settings(REDIS_URL=url):
        yield key_ids
    if url:  # only our own keys; never FLUSHDB a shared Redis
        client = redis.Redis.from_url(url)
        for key_id in key_ids:
            client.delete(*limiter.redis_keys(key_id))
        client.close()


def new_key_id(key_ids: list[str]) -> str:
    key_id = "test-" + uuid.uuid4().hex[:12]
    key_ids.append(key_id)
    return key_id


def chat_body(*, stream: bool = False, model: str = "gpt-4o") -> dict:
    """A request no cache can have seen (tests send Cache-Control: no-cache as well)."""
    return {"model": model, "messages": [{"role": "user", "content": f"Say hi {uuid.uuid4().hex}"}], "stream": stream}


def auth(key: str, *, bearer: bool = False) -> dict[str, str]:
    """Headers of a request that must reach the upstream: the exact cache may not answer it."""
    name, value = ("Authorization", f"Bearer {key}") if bearer else ("X-API-Key", key)
    return {name: value, "Cache-Control": "no-cache"}


def send(url: str, key: str) -> "httpx.Response":
    """One chat request to a served gateway, on a connection of its own."""
    import httpx

    with httpx.Client(timeout=30, trust_env=False) as client:
        return client.post(f"{url}/v1/chat/completions", json=chat_body(), headers=auth(key, bearer=True))

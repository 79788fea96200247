"""A hung Redis costs a request one timeout, not one per Redis user."""

import asyncio
import socket
import time

import pytest
from django.test import override_settings

from apps.cache import exact
from apps.keys import limiter
from apps.keys.registry import KeyInfo
from gateway_site import redis_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def hung_redis():
    """A TCP server that accepts connections and never answers: a hung Redis."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


KEY = KeyInfo(id=1, name="n", prefix="pgw-x", key_hash="ab" * 32, is_admin=False, rpm=5, tpm=None,
              allowed_models=frozenset(), namespace="ns", expires_at=None, revoked=False)


def test_it_skips_the_cache_once_the_limiter_found_redis_hung(hung_redis):
    async def one_request() -> tuple[float, object]:
        started = time.monotonic()
        await limiter.arate_limit_check(KEY)  # fail-open: lets the request through
        cached = await exact.aget("some-key")
        return time.monotonic() - started, cached

    with override_settings(REDIS_URL=hung_redis):
        redis_client._async_clients.clear()
        _, cached = asyncio.run(one_request())
        assert cached is None
        assert not redis_client.redis_gate.is_open()  # the limiter's timeout paused Redis for everyone
    redis_client._async_clients.clear()

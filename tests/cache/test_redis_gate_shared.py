"""A hung Redis costs a request one timeout, not one per Redis user."""

import asyncio
import socket

import pytest
from django.test import override_settings

from apps.cache import exact
from apps.keys import limiter
from apps.keys.registry import KeyInfo
from gateway_site import fast_redis, redis_client

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


def test_it_pauses_redis_for_the_cache_and_the_limiter_alike(hung_redis):
    async def one_request() -> object:
        await limiter.arate_limit_check(KEY)  # fail-open: lets the request through
        return await exact.aget("some-key")

    async def requests_until_paused() -> int:
        for count in range(1, 10):
            assert await one_request() is None
            if not redis_client.redis_gate.is_open():
                return count
        return 99

    with override_settings(REDIS_URL=hung_redis):
        fast_redis.reset_fast_redis()
        # Timeouts count across both users: two requests (limiter, cache, limiter) pause Redis.
        assert asyncio.run(requests_until_paused()) == 2
    fast_redis.reset_fast_redis()

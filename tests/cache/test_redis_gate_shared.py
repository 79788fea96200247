"""A hung Redis costs a request one timeout, not one per Redis user."""

import asyncio
import socket

import pytest
from django.test import override_settings

from apps.cache import exact
from apps.keys import limiter
from apps.keys.registry import KeyInfo
from gateway_site import redis_client
from gateway_site.breaker import OPEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def hung_server():
    """A TCP server that accepts connections and never answers: a hung Redis."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server
    server.close()


@pytest.fixture
def hung_redis(hung_server):
    return f"redis://127.0.0.1:{hung_server.getsockname()[1]}/0"


def connections_made(server: socket.socket) -> int:
    server.setblocking(False)
    count = 0
    while True:
        try:
            server.accept()[0].close()
        except BlockingIOError:
            return count
        count += 1


KEY = KeyInfo(id=1, name="n", prefix="pgw-x", key_hash="ab" * 32, is_admin=False, rpm=5, tpm=None,
              allowed_models=frozenset(), namespace="ns", expires_at=None, revoked=False)


def test_it_pauses_redis_for_the_cache_and_the_limiter_alike(hung_redis):
    async def one_request() -> object:
        await limiter.arate_limit_check(KEY)  # fail-open: lets the request through
        return await exact.aget("some-key")

    async def requests_until_paused() -> int:
        for count in range(1, 10):
            assert await one_request() is None
            if redis_client.redis_breaker().state == OPEN:
                return count
        return 99

    with override_settings(REDIS_URL=hung_redis):
        # Timeouts count across both users: two requests (limiter, cache, limiter) pause Redis.
        assert asyncio.run(requests_until_paused()) == 2


def test_a_request_pays_a_hung_redis_one_timeout_for_the_limiter_and_the_cache(hung_server, hung_redis):
    """The cache's GET leaves with the limiter's check: both time out together, once; a
    second wait would show as a second connection (fast_redis drops a hung one)."""
    from apps.cache.services import acache_lookup, acache_prefetch
    from tests.cache.conftest import ask, chat_request

    chat = chat_request(ask("Is anybody there?"), namespace="ns")

    async def one_request() -> object:
        await acache_prefetch(chat.cache)
        await limiter.arate_limit_check(chat.key)  # fail-open: lets the request through
        return await acache_lookup(chat.cache, completion_id=chat.completion_id)

    with override_settings(REDIS_URL=hung_redis):
        assert asyncio.run(one_request()) is None
        assert connections_made(hung_server) == 1
        assert redis_client.redis_breaker().failures == 2  # the limiter's and the cache's timeouts, counted

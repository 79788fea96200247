"""Redis unavailable: requests go through (fail open, counted) or are refused with 503
(fail closed), quickly either way; the limiter comes back with Redis."""

import asyncio
import dataclasses
import time

import httpx
import pytest
from django.test import override_settings

from apps.keys import limiter
from apps.stats import metrics
from gateway_site import gateway_config
from gateway_site.errors import RateLimitExceeded, ServiceUnavailable
from tests.gateway_server import GatewayServer, free_port
from tests.keys.test_limiter_helpers import auth, chat_body, make_key


@pytest.fixture
def redis_that_dies(disposable_redis):
    with override_settings(REDIS_URL=disposable_redis.url):
        yield disposable_redis


@pytest.fixture
def fail_closed():
    running = gateway_config.get_config()
    gateway_config.set_config(dataclasses.replace(
        running, rate_limits=dataclasses.replace(running.rate_limits, fail_open=False)
    ))
    yield
    gateway_config.set_config(running)


def fail_open_count() -> float:
    return metrics.RATE_LIMIT_FAIL_OPEN._value.get()


def test_it_lets_requests_through_when_redis_is_down_and_failing_open(redis_that_dies):
    key = make_key(rpm=1)
    before = fail_open_count()

    async def scenario():
        await limiter.arate_limit_check(key)
        redis_that_dies.stop()
        return [await limiter.arate_limit_check(key) for _ in range(3)]  # 3 > rpm: would be refused

    headers = asyncio.run(scenario())
    assert fail_open_count() - before == 3
    assert headers[0]["X-RateLimit-Limit"] == "1" and "X-RateLimit-Remaining" in headers[0]


def test_it_refuses_with_503_when_redis_is_down_and_failing_closed(redis_that_dies, fail_closed):
    redis_that_dies.stop()
    with pytest.raises(ServiceUnavailable) as refused:
        asyncio.run(limiter.arate_limit_check(make_key(rpm=5)))
    assert refused.value.status == 503
    assert refused.value.headers["Retry-After"] == "1" and refused.value.headers["X-RateLimit-Limit"] == "5"


def test_it_enforces_the_limit_again_once_redis_is_back(redis_that_dies):
    key = make_key(rpm=1)
    redis_that_dies.stop()
    asyncio.run(limiter.arate_limit_check(key))  # fails open, and Redis is left alone for a moment
    redis_that_dies.start()
    deadline = time.monotonic() + 10
    refused = None
    while refused is None and time.monotonic() < deadline:
        try:
            asyncio.run(limiter.arate_limit_check(key))
        except RateLimitExceeded as exc:
            refused = exc
        time.sleep(0.1)
    assert refused is not None and int(refused.headers["Retry-After"]) >= 1


@pytest.mark.django_db(transaction=True)
def test_a_gateway_without_its_redis_still_answers_with_headers(fake_upstream, django_db_blocker, user_key):
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with django_db_blocker.unblock(), GatewayServer({**fake_upstream.env(), "REDIS_URL": dead_redis}) as gateway:
        with httpx.Client(base_url=gateway.url, timeout=30, trust_env=False) as client:
            responses = [client.post("/v1/chat/completions", json=chat_body(), headers=auth(user_key)) for _ in range(3)]
    assert [response.status_code for response in responses] == [200, 200, 200]
    assert all(response.headers["X-RateLimit-Limit"] == "10" for response in responses)

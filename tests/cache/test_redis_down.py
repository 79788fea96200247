"""Redis down: requests still succeed, uncached; when Redis returns, caching resumes
by itself. Uses a Redis server of its own, under a gateway of its own."""

import pytest
import redis

from tests.cache.served import post, stored, unique, wait_until
from tests.gateway_server import GatewayServer

pytestmark = pytest.mark.django_db(transaction=True)


def ask(text: str) -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}


def test_it_serves_requests_without_redis_and_resumes_caching_when_it_returns(
    redis_url, key_for, namespace, disposable_redis, tmp_path
):
    raw_key = key_for(namespace)
    client = redis.Redis.from_url(disposable_redis.url)
    payload = ask(unique("What is resilience?"))
    with GatewayServer({"REDIS_URL": disposable_redis.url}) as gateway:
        assert post(gateway, raw_key, payload).headers["X-Cache"] == "MISS"
        wait_until(lambda: stored(payload, namespace, client))
        assert post(gateway, raw_key, payload).headers["X-Cache"] == "HIT-EXACT"

        disposable_redis.stop()
        for question in (payload, ask(unique("Another question")), payload):
            response = post(gateway, raw_key, question)
            assert response.status_code == 200 and response.headers["X-Cache"] == "MISS"
            assert response.json()["choices"][0]["message"]["content"]

        disposable_redis.start()  # same port, empty
        client = redis.Redis.from_url(disposable_redis.url)
        wait_until(lambda: post(gateway, raw_key, payload).status_code == 200 and stored(payload, namespace, client))
        assert post(gateway, raw_key, payload).headers["X-Cache"] == "HIT-EXACT"


def test_it_serves_requests_while_redis_hangs(redis_url, key_for, namespace, disposable_redis):
    import signal

    raw_key = key_for(namespace)
    payload = ask(unique("What is a hung server?"))
    with GatewayServer({"REDIS_URL": disposable_redis.url}) as gateway:
        assert post(gateway, raw_key, payload).status_code == 200
        disposable_redis.process.send_signal(signal.SIGSTOP)  # accepts connections, never answers
        try:
            for _ in range(3):
                response = post(gateway, raw_key, payload)
                assert response.status_code == 200 and response.headers["X-Cache"] == "MISS"
        finally:
            disposable_redis.process.send_signal(signal.SIGCONT)

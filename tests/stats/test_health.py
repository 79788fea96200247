"""Health probes against real dependencies, including ones we stop mid-test."""


import pytest
from django.test import override_settings


pytestmark = pytest.mark.django_db(transaction=True)


def test_it_is_alive_without_a_key(client):
    response = client.get("/health/live")
    assert response.status_code == 200 and response.json()["status"] == "alive"


def test_it_is_ready_when_the_database_answers(client):
    from apps.cache.semantic import wait_for_embedder

    assert wait_for_embedder()  # with the semantic cache on, ready also waits for the embedder
    response = client.get("/health/ready")
    assert response.status_code == 200 and response.json()["status"] == "ready"


def test_it_reports_every_dependency(client, user_key):
    body = client.get("/health", HTTP_X_API_KEY=user_key).json()
    assert body["services"]["database"] == "connected"
    assert set(body["services"]["providers"]) == {"openai", "anthropic", "google", "local"}  # local: the in-process model
    assert body["version"] == "1.0.0"
    assert body["timestamp"].endswith("Z")


def test_it_turns_degraded_when_redis_stops_and_recovers_when_it_returns(client, user_key, disposable_redis):
    with override_settings(REDIS_URL=disposable_redis.url):
        healthy = client.get("/health", HTTP_X_API_KEY=user_key)
        assert healthy.status_code == 200
        assert healthy.json()["services"]["redis"] == "connected"
        assert healthy.json()["status"] == "healthy"

        disposable_redis.stop()
        degraded = client.get("/health", HTTP_X_API_KEY=user_key)
        assert degraded.status_code == 200
        assert degraded.json()["services"]["redis"] == "disconnected"
        assert degraded.json()["status"] == "degraded"


def test_it_reports_a_provider_with_an_open_breaker_as_unavailable(client, user_key):
    from apps.completions.router import provider_breaker
    from gateway_site.gateway_config import get_config

    openai = get_config().providers["openai"]
    for _ in range(openai.breaker_threshold):
        provider_breaker(openai).failed()
    body = client.get("/health", HTTP_X_API_KEY=user_key).json()
    assert body["services"]["providers"]["openai"] == "unavailable"
    assert body["status"] == "degraded"

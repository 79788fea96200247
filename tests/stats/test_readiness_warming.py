"""/health/ready says "warming" (503) while the semantic cache's embedding service is not
answering yet, for a bounded time after the worker started; never when the cache is off."""

import dataclasses

import pytest

from gateway_site import gateway_config

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_embedder(settings, tmp_path):
    settings.GATEWAY_EMBEDDER_URL = f"unix://{tmp_path / 'nobody-listens.sock'}"


def test_it_is_warming_until_the_embedding_service_answers(client, no_embedder):
    response = client.get("/health/ready")
    assert response.status_code == 503 and response.json()["status"] == "warming"


def test_it_becomes_ready_without_the_service_after_the_warm_up_timeout(client, no_embedder, settings, runtime):
    runtime.started -= 61  # this worker started 61 s ago
    settings.GATEWAY_EMBEDDER_WARMUP_TIMEOUT = 60
    response = client.get("/health/ready")
    assert response.status_code == 200 and response.json()["status"] == "ready"


def test_it_does_not_wait_for_the_service_when_the_semantic_cache_is_off(client, no_embedder):
    config = gateway_config.get_config()
    gateway_config.set_config(dataclasses.replace(config, cache=dataclasses.replace(config.cache, semantic_enabled=False)))
    try:
        assert client.get("/health/ready").status_code == 200
    finally:
        gateway_config.set_config(config)

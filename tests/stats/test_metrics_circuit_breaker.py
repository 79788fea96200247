"""The breaker's state is a gauge per provider: 1 while open or probing, 0 when closed."""

import dataclasses

import pytest

from apps.completions.router import provider_breaker
from gateway_site.gateway_config import get_config

pytestmark = pytest.mark.django_db(transaction=True)


def gauge_line(client, admin_key: str, provider: str) -> str:
    text = client.get("/metrics", HTTP_X_API_KEY=admin_key).content.decode()
    prefix = f'gateway_circuit_breaker_open{{provider="{provider}"}} '
    return next(line for line in text.splitlines() if line.startswith(prefix))[len(prefix):]


def test_it_exports_every_configured_provider(client, admin_key):
    for provider in get_config().providers:
        assert gauge_line(client, admin_key, provider) in ("0.0", "1.0")


def test_it_follows_the_breaker_open_and_closed(client, admin_key):
    provider = dataclasses.replace(get_config().providers["openai"], name="metrics-test-provider", breaker_threshold=1)
    provider_breaker(provider).failed()
    assert gauge_line(client, admin_key, "metrics-test-provider") == "1.0"
    provider_breaker(provider).succeeded()
    assert gauge_line(client, admin_key, "metrics-test-provider") == "0.0"

"""An answer that came from a fallback model is not cached as the requested model's: the
next request must try the requested model again, not be served another model's answer."""

import pytest
import yaml

from tests.cache.served import post, stored, unique, wait_until
from tests.gateway_server import GatewayServer

pytestmark = pytest.mark.django_db(transaction=True)


def config(fake_url: str) -> dict:
    return {
        "defaults": {"retries": {"max_attempts": 1}},
        "providers": {
            "google": {"protocol": "gemini", "base_url": f"{fake_url}/gemini", "api_key_env": "GEMINI_API_KEY"},
            "refusing": {"protocol": "openai", "base_url": f"{fake_url}/openai/v1", "api_key_env": "REFUSED_KEY"},
        },
        "models": {
            "gemini-2.5-flash": {"provider": "google"},
            "refused-primary": {"provider": "refusing", "upstream_model": "gpt-4o", "fallbacks": ["gemini-2.5-flash"]},
        },
    }


@pytest.fixture(scope="module")
def fallback_gateway(fake_upstream, tmp_path_factory, django_db_blocker):
    from tests.conftest import needs_redis

    needs_redis()
    path = tmp_path_factory.mktemp("config") / "gateway.yaml"
    path.write_text(yaml.safe_dump(config(fake_upstream.url)))
    with django_db_blocker.unblock(), GatewayServer({"GATEWAY_CONFIG": str(path), "REFUSED_KEY": "bad-key"}) as server:
        yield server


@pytest.mark.parametrize("stream", [False, True])
def test_it_does_not_cache_a_fallback_answer(fallback_gateway, key_for, namespace, stream):
    raw_key = key_for(namespace)
    payload = {"model": "refused-primary", "messages": [{"role": "user", "content": unique("Hello")}], "stream": stream}
    response = post(fallback_gateway, raw_key, payload)
    assert response.status_code == 200 and response.headers["X-Gateway-Fallback-Model"] == "gemini-2.5-flash"
    control = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": unique("control")}], "stream": stream}
    assert post(fallback_gateway, raw_key, control).status_code == 200
    wait_until(lambda: stored(control, namespace))
    assert not stored(payload, namespace)
    assert post(fallback_gateway, raw_key, payload).headers["X-Cache"] == "MISS"

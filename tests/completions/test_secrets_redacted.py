"""Provider secrets never leave the server: not in an error a client gets, not in the log,
even when the upstream (or a proxy in front of it) echoes the credentials it was sent."""

import secrets

import httpx
import pytest
import yaml

from gateway_site.redaction import redact
from tests.gateway_server import GatewayServer

pytestmark = pytest.mark.django_db(transaction=True)

OPENAI_SECRET = "sk-proj-" + secrets.token_urlsafe(24)
ANTHROPIC_SECRET = "sk-ant-api03-" + secrets.token_urlsafe(24)
GEMINI_SECRET = "AIzaSy" + secrets.token_urlsafe(24)
SECRETS = (OPENAI_SECRET, ANTHROPIC_SECRET, GEMINI_SECRET)


@pytest.fixture(scope="module")
def leaky_gateway(fake_upstream, django_db_blocker, tmp_path_factory):
    from gateway_site import gateway_config

    raw = yaml.safe_load(open(gateway_config.config_path()))
    raw["defaults"]["retries"]["max_attempts"] = 1  # one echo per request is enough
    raw["defaults"]["circuit_breaker"]["failure_threshold"] = 1000  # injected faults must not open breakers
    for model in raw["models"].values():
        model.pop("fallbacks", None)
    config = tmp_path_factory.mktemp("config") / "gateway.yaml"
    config.write_text(yaml.safe_dump(raw))
    env = {**fake_upstream.env(), "OPENAI_API_KEY": OPENAI_SECRET, "ANTHROPIC_API_KEY": ANTHROPIC_SECRET,
           "GEMINI_API_KEY": GEMINI_SECRET, "GATEWAY_CONFIG": str(config)}
    with django_db_blocker.unblock(), GatewayServer(env) as server:
        yield server


@pytest.mark.parametrize("status", [400, 500])
@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", ["gpt-4o", "claude-sonnet-4-20250514", "gemini-2.5-flash"])
def test_it_redacts_credentials_an_upstream_echoes(leaky_gateway, user_key, model, stream, status):
    body = {"model": model, "stream": stream,
            "messages": [{"role": "user", "content": f"hi fake:status={status} fake:echo_auth"}]}
    response = httpx.post(f"{leaky_gateway.url}/v1/chat/completions", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {user_key}", "Cache-Control": "no-store"})
    assert response.status_code in (400, 502)
    message = response.json()["error"]["message"]
    assert "[redacted]" in message and model in message  # the upstream's own words, made safe
    assert not any(secret in response.text for secret in SECRETS)
    assert not any(secret in leaky_gateway.log() for secret in SECRETS)


def test_it_names_a_connection_failure_in_plain_words():
    from apps.completions.providers.base import _connection_message
    from apps.completions.providers.types import ProviderSettings

    import aiohttp

    provider = ProviderSettings(name="openai", protocol="openai", base_url="http://127.0.0.1:9/v1")
    payload_error = aiohttp.ClientPayloadError("Response payload is not completed: <ContentLengthError: 400>")
    assert _connection_message(provider, payload_error) == "openai closed the connection before its answer was complete"


@pytest.mark.parametrize("text", [
    "Authorization: Bearer abcdefghijklmnop1234", "key sk-abcdefghijklmnopqrstuvwxyz", "AIzaSyA1234567890abcdefghijklmnop",
    "GET /v1beta/models/x:generateContent?key=abcdefgh12345678", "x-api-key: abcdefgh12345678",
])
def test_it_redacts_anything_shaped_like_a_credential(text):
    assert "[redacted]" in redact(text) and not any(part in redact(text) for part in ("abcdefghijklmnop", "1234567890abc"))

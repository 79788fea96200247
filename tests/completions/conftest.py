import json
from pathlib import Path

import jsonschema
import pytest

# OpenAI's published schemas, copied into the repository (source and MIT licence in its README).
SCHEMAS_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "openai" / "openai-chat-schemas.json"

# One model per provider protocol, as a user would pick them.
# Keyed by protocol (the fake upstream names itself by protocol in its answers).
MODELS_BY_PROVIDER = {"openai": "gpt-4o", "anthropic": "claude-sonnet-4-20250514", "gemini": "gemini-2.5-flash"}


@pytest.fixture(scope="session")
def openai_schemas() -> dict:
    if not SCHEMAS_PATH.exists():
        pytest.fail(f"OpenAI's published schemas are expected at {SCHEMAS_PATH}")
    return json.loads(SCHEMAS_PATH.read_text())


def _validator(schemas: dict, name: str):
    validator = jsonschema.Draft202012Validator(schemas[name])
    return validator.validate


@pytest.fixture(scope="session")
def assert_valid_completion(openai_schemas):
    return _validator(openai_schemas, "CreateChatCompletionResponse")


@pytest.fixture(scope="session")
def assert_valid_chunk(openai_schemas):
    return _validator(openai_schemas, "CreateChatCompletionStreamResponse")


@pytest.fixture
def fragile_gateway(fake_upstream, tmp_path, monkeypatch):
    """The in-process app (tests/asgi_client.py) with providers whose breakers open on one
    failure and cool down in a tenth of a second: "fragile" and "brittle" (both OpenAI at
    the fake), and "steady" (Anthropic at the fake, breaker practically never opens).
    Models: primary (fragile) falls back to backup (steady); first (fragile) falls back to
    second (brittle); no retries anywhere. Written to a file, since a process re-reads its
    config file whenever its event listener (re)connects to Redis."""
    from apps.stats import usage
    from gateway_site import gateway_config
    from tests.config_files import use_config

    openai = {"protocol": "openai", "base_url": f"{fake_upstream.url}/openai/v1", "api_key_env": "OPENAI_API_KEY"}
    fragile = {"failure_threshold": 1, "cooldown": 0.1}
    raw = {
        "defaults": {"retries": {"max_attempts": 1}, "circuit_breaker": {"failure_threshold": 1000, "cooldown": 0.1}},
        "providers": {
            "fragile": {**openai, "circuit_breaker": fragile},
            "brittle": {**openai, "circuit_breaker": fragile},
            "steady": {"protocol": "anthropic", "base_url": f"{fake_upstream.url}/anthropic", "api_key_env": "ANTHROPIC_API_KEY"},
        },
        "models": {
            "primary": {"provider": "fragile", "upstream_model": "gpt-4o", "fallbacks": ["backup"]},
            "backup": {"provider": "steady", "upstream_model": "claude-sonnet-4-20250514"},
            "first": {"provider": "fragile", "upstream_model": "gpt-4o", "fallbacks": ["second"]},
            "second": {"provider": "brittle", "upstream_model": "gpt-4o"},
        },
        "rate_limits": {"requests_per_minute": 100000},
    }
    use_config(raw, tmp_path, monkeypatch)
    yield
    gateway_config.set_config(None)
    usage.flush_all()  # the requests' usage records, while their tables still exist


def chat_body(content: str, *, model: str, stream: bool = False) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}


@pytest.fixture
def chat(api, fragile_gateway, user_key):
    """chat("hello", model="primary") through the in-process app, uncached."""

    def send(content: str, *, model: str = "primary", stream: bool = False):
        headers = {"Authorization": f"Bearer {user_key}", "Cache-Control": "no-store"}
        return api.post("/v1/chat/completions", json=chat_body(content, model=model, stream=stream), headers=headers)

    return send

import json
from pathlib import Path

import jsonschema
import pytest

from tests.gateway_server import GatewayServer

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


@pytest.fixture(scope="module")
def gateway(fake_upstream, django_db_blocker):
    """The real ASGI app under uvicorn, providers pointed at the fake upstream."""
    with django_db_blocker.unblock():
        server = GatewayServer(fake_upstream.env())
        server.start()
    yield server
    server.stop()

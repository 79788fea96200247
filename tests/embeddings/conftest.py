import openai
import pytest

from tests.gateway_server import GatewayServer

# The embedding models of config/gateway.yaml, one per protocol, with their own dimensions.
MODELS = {"text-embedding-3-small": 1536, "gemini-embedding-001": 3072, "all-minilm-l6-v2": 384}


@pytest.fixture(scope="module")
def gateway(fake_upstream, django_db_blocker):
    """The real ASGI app under uvicorn, providers pointed at the fake upstream."""
    with django_db_blocker.unblock():
        server = GatewayServer(fake_upstream.env())
        server.start()
    yield server
    server.stop()


@pytest.fixture
def sdk(gateway, user_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=user_key, max_retries=0, timeout=60)


@pytest.fixture
def uncached_sdk(gateway, user_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=user_key, max_retries=0, timeout=60,
                         default_headers={"Cache-Control": "no-store"})

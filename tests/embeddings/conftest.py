import openai
import pytest

# The embedding models of config/gateway.yaml, one per protocol, with their own dimensions.
MODELS = {"text-embedding-3-small": 1536, "gemini-embedding-001": 3072, "all-minilm-l6-v2": 384}


@pytest.fixture
def sdk(gateway, user_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=user_key, max_retries=0, timeout=60)


@pytest.fixture
def uncached_sdk(gateway, user_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=user_key, max_retries=0, timeout=60,
                         default_headers={"Cache-Control": "no-store"})

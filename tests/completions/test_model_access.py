"""Keys restricted to some models, and models the gateway does not serve."""

import httpx
import pytest

from apps.keys.services import key_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def gpt4o_only_key(db) -> str:
    return key_create(name="carol", allowed_models=["gpt-4o"])[1]


def post(gateway, key: str, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers={"X-API-Key": key}, timeout=30)


def test_it_refuses_a_model_the_key_may_not_use(gateway, gpt4o_only_key):
    assert post(gateway, gpt4o_only_key, "gpt-4o").status_code == 200
    response = post(gateway, gpt4o_only_key, "claude-sonnet-4-20250514")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


def test_it_lists_only_the_models_a_key_may_use(gateway, gpt4o_only_key):
    response = httpx.get(f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {gpt4o_only_key}"})
    assert [model["id"] for model in response.json()["data"]] == ["gpt-4o"]


def test_it_answers_an_unknown_model_with_model_not_found(gateway, user_key):
    response = post(gateway, user_key, "gpt-17")
    assert response.status_code == 400 and response.json()["error"]["code"] == "model_not_found"


@pytest.mark.parametrize(("body", "param"), [
    ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
    ({"model": "gpt-4o"}, "messages"),
    ({"model": "gpt-4o", "messages": []}, "messages"),
    ({"model": "gpt-4o", "messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "temperature": 7}, "temperature"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "max_tokens"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}, "stream"),
    ({"model": "claude-sonnet-4-20250514", "messages": [{"role": "user", "content": "hi"}], "n": 2}, "n"),
])
def test_it_explains_invalid_requests(gateway, user_key, body, param):
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers={"X-API-Key": user_key}, timeout=30)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["param"] == param and error["message"]


@pytest.mark.parametrize("model", ["gpt-4o", "claude-sonnet-4-20250514", "gemini-2.5-flash"])
def test_it_carries_a_tool_conversation_across_providers(gateway, user_key, model):
    import openai

    sdk = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=user_key, max_retries=0)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}]
    messages = [{"role": "system", "content": "Use tools."}, {"role": "user", "content": "Weather in Oslo? fake:tool"}]
    first = sdk.chat.completions.create(model=model, messages=messages, tools=tools)
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "4 degrees and rain"}]
    second = sdk.chat.completions.create(model=model, messages=messages, tools=tools)
    assert second.choices[0].finish_reason == "stop" and second.choices[0].message.content

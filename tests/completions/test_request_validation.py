"""One validation for every provider, from OpenAI's request schema (issue 10, item 9)."""

import json

import pytest

from tests.site.test_error_contract import assert_contract_error

pytestmark = pytest.mark.django_db(transaction=True)

MODELS = ["gpt-4o", "claude-sonnet-4-20250514", "gemini-2.5-flash"]
HI = [{"role": "user", "content": "hi"}]


def chat(api, key: str, body: dict, **headers):
    return api.post("/v1/chat/completions", content=json.dumps(body).encode(),
                    headers={"X-API-Key": key, "Content-Type": "application/json", **headers})


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("extra", "param", "expected"), [
    ({"n": 1000}, "n", "<= 128"),
    ({"tools": "x"}, "tools", "an array"),
    ({"stop": 123}, "stop", "a string"),
    ({"stream": True, "stream_options": {"include_usage": "yes"}}, "stream_options.include_usage", "a boolean"),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text", "required"),
    ({"messages": [*HI, {"role": "tool", "tool_call_id": "call_1"}]}, "messages[1].content", "required"),
])
def test_it_refuses_what_the_openai_schema_refuses_for_every_provider(api, user_key, model, extra, param, expected):
    body = assert_contract_error(chat(api, user_key, {"model": model, "messages": HI, **extra}), 400, "invalid_request")
    assert body["error"]["param"] == param
    assert param in body["error"]["message"] and expected in body["error"]["message"]


@pytest.mark.parametrize("model", MODELS)
def test_it_refuses_a_body_that_is_not_sent_as_json(api, user_key, model):
    body = {"model": model, "messages": HI}
    response = chat(api, user_key, body, **{"Content-Type": "text/plain"})
    error = assert_contract_error(response, 400, "invalid_request")["error"]
    assert "Content-Type" in error["message"] and "application/json" in error["message"]


def test_it_accepts_json_with_a_charset_or_no_content_type(api, user_key):
    body = json.dumps({"model": "gpt-4o", "messages": HI}).encode()
    with_charset = api.post("/v1/chat/completions", content=body,
                            headers={"X-API-Key": user_key, "Content-Type": "application/json; charset=utf-8"})
    without = api.post("/v1/chat/completions", content=body, headers={"X-API-Key": user_key})
    assert with_charset.status_code == 200 and without.status_code == 200, (with_charset.text, without.text)


@pytest.mark.parametrize("model", MODELS)
def test_it_passes_fields_the_schema_does_not_name(api, user_key, model):
    body = {"model": model, "messages": HI, "some_future_option": {"x": 1}, "stop": ["\n"], "n": 1, "seed": 7}
    response = chat(api, user_key, body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("model", MODELS)
def test_it_carries_tool_results_given_as_text_parts(api, user_key, model):
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    messages = [*HI, {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "4 degrees"}]}]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    response = chat(api, user_key, {"model": model, "messages": messages, "tools": tools})
    assert response.status_code == 200, response.text

"""The official anthropic SDK against the running gateway's POST /v1/messages, for a Claude
model (passed through) and for OpenAI and Gemini models (translated)."""

import json
import uuid

import anthropic
import httpx
import pytest

from tests.completions.conftest import MODELS_BY_PROVIDER
from tests.completions.test_usage_records import wait_for_records

pytestmark = pytest.mark.django_db(transaction=True)

PROVIDERS = list(MODELS_BY_PROVIDER.items())
WEATHER_TOOL = {"name": "get_weather", "description": "The weather in a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
# Anthropic's streaming sequence for one text block (docs: messages-streaming).
TEXT_SEQUENCE = ["message_start", "ping", "content_block_start", "content_block_delta", "content_block_stop",
                 "message_delta", "message_stop"]


@pytest.fixture
def claude(gateway, user_key) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=user_key, max_retries=0, timeout=30)


def headers(key: str) -> dict[str, str]:
    return {"x-api-key": key, "anthropic-version": "2023-06-01", "Cache-Control": "no-store"}


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_answers_the_sdk_with_a_message(claude, provider, model):
    message = claude.messages.create(
        model=model, max_tokens=100, system="Be terse.",
        messages=[{"role": "user", "content": f"Say hello to the tester {provider}"}],
    )
    assert message.type == "message" and message.role == "assistant" and message.model == model
    assert message.content[0].type == "text"
    assert message.content[0].text.startswith(f"This is a fake answer from {provider} to: Say hello")
    assert message.stop_reason == "end_turn"
    # The fake counts words: "Be terse." (2) + the user text (6), whatever the provider.
    assert message.usage.input_tokens == 8
    assert message.usage.output_tokens == len(message.content[0].text.split())


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_streams_to_the_sdk(claude, provider, model):
    with claude.messages.stream(model=model, max_tokens=100,
                                messages=[{"role": "user", "content": f"Stream me something {provider}"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text.startswith(f"This is a fake answer from {provider}")
    assert final.content[0].text == text and final.stop_reason == "end_turn" and final.model == model
    assert final.usage.input_tokens == 4 and final.usage.output_tokens == len(text.split())


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_streams_anthropics_exact_event_sequence(gateway, user_key, provider, model):
    body = {"model": model, "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "Sequence please"}]}
    with httpx.stream("POST", f"{gateway.url}/v1/messages", json=body, headers=headers(user_key), timeout=30) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["request-id"] == response.headers["X-Request-ID"]
        lines = list(response.iter_lines())
    names = [line[7:] for line in lines if line.startswith("event: ")]
    datas = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    collapsed = [name for i, name in enumerate(names) if i == 0 or name != names[i - 1]]
    assert collapsed == TEXT_SEQUENCE
    assert [data["type"] for data in datas] == names  # every event's data names its event
    assert {data["index"] for data in datas if "index" in data} == {0}


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
@pytest.mark.parametrize("stream", [False, True])
def test_it_round_trips_a_tool_call(claude, provider, model, stream):
    asked = {"role": "user", "content": f"Weather in Oslo? fake:tool {provider}"}
    fields = {"model": model, "max_tokens": 100, "tools": [WEATHER_TOOL]}
    if stream:
        with claude.messages.stream(**fields, messages=[asked]) as events:
            first = events.get_final_message()
    else:
        first = claude.messages.create(**fields, messages=[asked])
    [call] = [block for block in first.content if block.type == "tool_use"]
    assert (call.name, call.input, first.stop_reason) == ("get_weather", {"city": "Oslo"}, "tool_use")
    assert call.id
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21 C"}]}
    second = claude.messages.create(**fields, messages=[asked, {"role": "assistant", "content": first.content}, result])
    assert second.stop_reason == "end_turn"
    assert second.content[0].text.startswith(f"This is a fake answer from {provider}")
    # The tool result reached the model: its words are counted in the prompt.
    assert second.usage.input_tokens == first.usage.input_tokens + 3


def test_it_passes_a_claude_request_through_as_sent(claude, fake_upstream):
    claude.messages.create(
        model="claude-sonnet-4-20250514", max_tokens=64, extra_body={"top_k": 5}, system=[{"type": "text", "text": "Terse.",
                                                                            "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "as sent"}], extra_headers={"anthropic-beta": "some-beta-2025"},
    )
    last = fake_upstream.requests()["last"]["anthropic"]
    assert last["body"]["top_k"] == 5 and last["body"]["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert last["headers"]["anthropic-beta"] == "some-beta-2025"
    assert last["headers"]["x-api-key"] != claude.api_key  # the gateway's own provider key


def test_it_translates_the_system_prompt_for_other_models(claude, fake_upstream):
    claude.messages.create(model="gpt-4o", max_tokens=64, extra_body={"top_k": 5}, system="You are terse.",
                           stop_sequences=["END"], messages=[{"role": "user", "content": "translated"}])
    body = fake_upstream.requests()["last"]["openai"]["body"]
    assert body["messages"][0] == {"role": "system", "content": "You are terse."}
    assert body["stop"] == ["END"] and body["max_tokens"] == 64 and "top_k" not in body


def test_it_refuses_a_bad_key_as_anthropic_does(gateway):
    client = anthropic.Anthropic(base_url=gateway.url, api_key="sk-not-a-key", max_retries=0, timeout=30)
    with pytest.raises(anthropic.AuthenticationError) as raised:
        client.messages.create(model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert raised.value.body["type"] == "error"
    assert raised.value.body["error"]["type"] == "authentication_error"


def test_it_accepts_a_bearer_token(gateway, user_key):
    client = anthropic.Anthropic(base_url=gateway.url, auth_token=user_key, max_retries=0, timeout=30)
    message = client.messages.create(model="gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "bearer"}])
    assert message.content[0].text.startswith("This is a fake answer")


def test_it_answers_an_unknown_model_with_not_found(claude):
    with pytest.raises(anthropic.NotFoundError) as raised:
        claude.messages.create(model="claude-17", max_tokens=10, messages=[{"role": "user", "content": "hi"}])
    assert raised.value.body["error"]["type"] == "not_found_error"


def test_it_refuses_a_bad_request_in_anthropics_shape(gateway, user_key):
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "no max_tokens"}]}
    response = httpx.post(f"{gateway.url}/v1/messages", json=body, headers=headers(user_key), timeout=30)
    assert response.status_code == 400
    assert response.json() == {"type": "error", "error": {"type": "invalid_request_error", "message": response.json()["error"]["message"]}}
    assert "max_tokens" in response.json()["error"]["message"]


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_reports_an_upstream_failure_as_an_api_error(claude, provider, model):
    with pytest.raises(anthropic.APIStatusError) as raised:
        claude.messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": f"hi {provider} fake:status=401"}])
    assert raised.value.status_code == 502 and raised.value.body["error"]["type"] == "api_error"


def test_it_counts_a_claude_models_tokens_upstream(claude):
    count = claude.messages.count_tokens(model="claude-sonnet-4-20250514", system="Be terse.",
                                         messages=[{"role": "user", "content": "count these four words"}])
    assert count.input_tokens == 6  # the fake's own count: words, system included


def test_it_estimates_other_models_tokens(gateway, user_key):
    body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "x" * 400}]}
    response = httpx.post(f"{gateway.url}/v1/messages/count_tokens", json=body, headers=headers(user_key), timeout=30)
    assert response.status_code == 200 and response.json() == {"input_tokens": 100}
    assert response.headers["X-Gateway-Tokens-Estimated"] == "true"


def test_it_estimates_a_claude_count_when_its_upstream_fails(gateway, user_key):
    body = {"model": "claude-sonnet-4-20250514", "messages": [{"role": "user", "content": "twelve chars fake:status=503"}]}
    response = httpx.post(f"{gateway.url}/v1/messages/count_tokens", json=body, headers=headers(user_key), timeout=30)
    assert response.status_code == 200 and response.json() == {"input_tokens": 7}  # 28 characters / 4
    assert response.headers["X-Gateway-Tokens-Estimated"] == "true"


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", list(MODELS_BY_PROVIDER.values()))
def test_it_records_usage(gateway, user_key, model, stream):
    body = {"model": model, "max_tokens": 50, "stream": stream,
            "messages": [{"role": "user", "content": "count my tokens please fake:words=7"}]}
    response = httpx.post(f"{gateway.url}/v1/messages", json=body, headers=headers(user_key), timeout=30)
    assert response.status_code == 200
    [record] = wait_for_records(1, request_id=response.headers["request-id"])
    assert (record.model, record.stream, record.status_code) == (model, stream, 200)
    assert (record.prompt_tokens, record.completion_tokens) == (5, 7)
    assert record.cost_usd > 0


def test_it_answers_a_repeated_translated_request_from_the_exact_cache(gateway, user_key):
    body = {"model": "gemini-2.5-flash", "max_tokens": 50, "messages": [{"role": "user", "content": f"cache me {uuid.uuid4()}"}]}
    key_only = {"x-api-key": user_key}
    first = httpx.post(f"{gateway.url}/v1/messages", json=body, headers=key_only, timeout=30)
    again = httpx.post(f"{gateway.url}/v1/messages", json=body, headers=key_only, timeout=30)
    assert (first.headers["X-Cache"], again.headers["X-Cache"]) == ("MISS", "HIT-EXACT")
    assert again.json()["content"] == first.json()["content"] and again.json()["type"] == "message"
    with httpx.stream("POST", f"{gateway.url}/v1/messages", json={**body, "stream": True}, headers=key_only, timeout=30) as streamed:
        assert streamed.headers["X-Cache"] == "HIT-EXACT"
        lines = list(streamed.iter_lines())
    text = "".join(json.loads(line[6:])["delta"].get("text", "") for line in lines
                   if line.startswith("data: ") and '"content_block_delta"' in line)
    assert text == first.json()["content"][0]["text"]
    assert [line for line in lines if line.startswith("event: ")][-1] == "event: message_stop"

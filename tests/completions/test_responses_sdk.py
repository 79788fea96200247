"""POST /v1/responses with the official openai SDK, against the running gateway and the
fake upstream, on a model of every provider."""

import json
import time

import openai
import pytest

from apps.keys.services import key_create
from apps.responses.models import StoredResponse
from tests.completions.conftest import MODELS_BY_PROVIDER
from tests.completions.test_usage_records import wait_for_records

pytestmark = pytest.mark.django_db(transaction=True)

PROVIDERS = list(MODELS_BY_PROVIDER.items())
WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "The weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture
def sdk(gateway, user_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=user_key, max_retries=0, timeout=30)


@pytest.fixture
def eve_sdk(gateway, db) -> openai.OpenAI:
    _, raw = key_create(name="eve")
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=raw, max_retries=0, timeout=30)


def upstream_body(fake_upstream, provider: str) -> str:
    return json.dumps(fake_upstream.requests()["last"][provider]["body"])


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_answers_a_string_input(sdk, provider, model):
    response = sdk.responses.create(model=model, instructions="Be terse.", input="Say hello to the tester")
    assert response.object == "response" and response.status == "completed"
    assert response.id.startswith("resp_")
    assert response.output_text.startswith(f"This is a fake answer from {provider} to: Say hello")
    assert [item.type for item in response.output] == ["message"]
    assert response.usage.input_tokens == len(["Be", "terse.", "Say", "hello", "to", "the", "tester"])
    assert response.usage.output_tokens == len(response.output_text.split())
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_reads_item_list_input_with_roles_and_parts(sdk, fake_upstream, provider, model):
    response = sdk.responses.create(model=model, input=[
        {"role": "developer", "content": "Answer in English."},
        {"role": "user", "content": [{"type": "input_text", "text": "First part."}, {"type": "input_text", "text": "Items please"}]},
    ])
    assert response.output_text.startswith(f"This is a fake answer from {provider}")
    body = upstream_body(fake_upstream, provider)
    assert "Answer in English." in body and "First part." in body


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_streams_the_responses_event_family(sdk, provider, model):
    with sdk.responses.stream(model=model, input="Stream me something") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
    assert kinds[-4:] == ["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text.startswith(f"This is a fake answer from {provider}") and final.output_text == text
    assert final.usage.output_tokens == len(text.split()) and final.usage.input_tokens > 0
    assert len({event.response.id for event in events if hasattr(event, "response")}) == 1


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_streams_with_stream_true(sdk, provider, model):
    events = list(sdk.responses.create(model=model, input="Stream me more", stream=True))
    assert events[0].type == "response.created" and events[-1].type == "response.completed"
    assert events[-1].response.output_text.startswith(f"This is a fake answer from {provider}")


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_round_trips_a_function_call(sdk, fake_upstream, provider, model, stream):
    question = {"role": "user", "content": f"Weather in Oslo? fake:tool {stream}"}
    if stream:
        with sdk.responses.stream(model=model, input=[question], tools=[WEATHER_TOOL]) as events:
            kinds = [event.type for event in events]
            first = events.get_final_response()
        assert "response.function_call_arguments.delta" in kinds and "response.function_call_arguments.done" in kinds
    else:
        first = sdk.responses.create(model=model, input=[question], tools=[WEATHER_TOOL])
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and call.call_id and json.loads(call.arguments) == {"city": "Oslo"}
    result = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny and mild"}
    second = sdk.responses.create(model=model, input=[question, *first.output, result], tools=[WEATHER_TOOL])
    assert second.output_text.startswith(f"This is a fake answer from {provider}")
    assert "sunny and mild" in upstream_body(fake_upstream, provider)


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_continues_a_conversation_from_previous_response_id(sdk, fake_upstream, provider, model):
    first = sdk.responses.create(model=model, instructions="Be kind.", input="My name is Ada")
    second = sdk.responses.create(model=model, input="What is my name?", previous_response_id=first.id)
    assert second.previous_response_id == first.id
    assert second.output_text.startswith(f"This is a fake answer from {provider} to: What is my name?")
    body = upstream_body(fake_upstream, provider)
    assert "My name is Ada" in body and first.output_text in body
    assert "Be kind." not in body  # instructions belong to their own turn, as in OpenAI's API
    third = sdk.responses.create(model=model, input="And again?", previous_response_id=second.id)
    body = upstream_body(fake_upstream, provider)
    assert all(text in body for text in ("My name is Ada", "What is my name?", second.output_text, "And again?"))
    assert third.usage.input_tokens > second.usage.input_tokens > first.usage.input_tokens - 2


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_continues_a_tool_call_from_previous_response_id(sdk, provider, model):
    with sdk.responses.stream(model=model, input="Weather in Oslo? fake:tool", tools=[WEATHER_TOOL]) as stream:
        first = stream.get_final_response()
    [call] = [item for item in first.output if item.type == "function_call"]
    second = sdk.responses.create(model=model, previous_response_id=first.id, tools=[WEATHER_TOOL],
                                  input=[{"type": "function_call_output", "call_id": call.call_id, "output": "rain"}])
    assert second.output_text.startswith(f"This is a fake answer from {provider} to: Weather in Oslo?")


def test_it_stores_the_conversation_in_postgresql(sdk, user_key):
    response = sdk.responses.create(model="gpt-4o", input="Keep me")
    deadline = time.monotonic() + 15
    while not (row := StoredResponse.objects.filter(id=response.id).first()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert row is not None and row.api_key.prefix == user_key[:12] and row.model == "gpt-4o"
    assert row.input_items == [{"type": "message", "role": "user", "content": "Keep me"}]
    assert row.output_items[0]["content"][0]["text"] == response.output_text
    assert 29.9 < (row.expires_at - row.created_at).total_seconds() / 86400 <= 30


def test_it_does_not_keep_a_response_sent_with_store_false(sdk):
    first = sdk.responses.create(model="gpt-4o", input="Forget me", store=False)
    assert first.store is False
    with pytest.raises(openai.NotFoundError) as raised:
        sdk.responses.create(model="gpt-4o", input="Remember?", previous_response_id=first.id)
    assert raised.value.body["param"] == "previous_response_id"


def test_it_never_continues_another_keys_response(sdk, eve_sdk):
    first = sdk.responses.create(model="claude-sonnet-4-20250514", input="A secret of alice")
    with pytest.raises(openai.NotFoundError):
        eve_sdk.responses.create(model="claude-sonnet-4-20250514", input="Tell me", previous_response_id=first.id)


@pytest.mark.parametrize("stream", [False, True])
def test_it_records_usage_like_a_chat_completion(sdk, stream):
    raw = sdk.responses.with_raw_response.create(model="gemini-2.5-flash", input="count me fake:words=7", stream=stream)
    if stream:
        list(raw.parse())
    [record] = wait_for_records(1, request_id=raw.headers["X-Request-ID"])
    assert (record.status_code, record.model, record.stream, record.completion_tokens) == (200, "gemini-2.5-flash", stream, 7)
    assert record.prompt_tokens == 3 and record.cost_usd > 0


def test_it_answers_errors_in_the_contract_shape(sdk, gateway):
    with pytest.raises(openai.BadRequestError) as raised:
        sdk.responses.create(model="gpt-4o", input="search", tools=[{"type": "web_search"}])
    assert raised.value.body["param"] == "tools[0].type"
    with pytest.raises(openai.BadRequestError):
        sdk.responses.create(model="gpt-17", input="hi")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-nope", max_retries=0).responses.create(model="gpt-4o", input="hi")


def test_it_reports_a_failure_mid_stream_as_response_failed(sdk):
    # slow_stream: the first events reach the client before the error (sent together, the
    # error would come before the first byte, and the gateway would rightly fall back).
    events = list(sdk.responses.create(model="gpt-4o", input="break fake:stream_error=3 fake:slow_stream=0.05", stream=True))
    assert events[-1].type == "response.failed"
    assert events[-1].response.status == "failed" and events[-1].response.error.code

"""The official openai SDK against the running gateway, for every provider."""

import httpx
import openai
import pytest

from tests.completions.conftest import MODELS_BY_PROVIDER

pytestmark = pytest.mark.django_db(transaction=True)

PROVIDERS = list(MODELS_BY_PROVIDER.items())


@pytest.fixture
def sdk(gateway, user_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=user_key, max_retries=0, timeout=30)


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_answers_through_the_sdk(sdk, provider, model):
    completion = sdk.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Say hello to the tester"}],
    )
    assert completion.object == "chat.completion"
    assert f"fake answer from {provider}" in completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_streams_through_the_sdk_with_usage(sdk, provider, model):
    stream = sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Stream me something"}],
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith(f"This is a fake answer from {provider}")
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(text.split())


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_sends_no_usage_chunk_unless_asked(sdk, provider, model):
    chunks = list(sdk.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}], stream=True))
    assert all(c.choices for c in chunks)


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_streams_tool_calls_as_openai_deltas(sdk, provider, model):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    stream = sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Weather in Oslo? fake:tool"}], tools=tools, stream=True,
    )
    calls: dict[int, dict] = {}
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        for delta in chunk.choices[0].delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
            call["id"] = call["id"] or delta.id
            call["name"] = call["name"] or (delta.function.name if delta.function else None)
            call["arguments"] += (delta.function.arguments or "") if delta.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert list(calls) == [0]
    assert calls[0]["name"] == "get_weather" and calls[0]["id"]
    import json

    assert json.loads(calls[0]["arguments"]) == {"city": "Oslo"}
    assert finish == "tool_calls"


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_its_responses_and_chunks_match_openais_schemas(gateway, user_key, assert_valid_completion, assert_valid_chunk, provider, model):
    import json

    headers = {"Authorization": f"Bearer {user_key}"}
    body = {"model": model, "messages": [{"role": "user", "content": "validate me"}]}
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert response.status_code == 200
    assert response.headers["X-Request-ID"].startswith("req_")
    assert_valid_completion(response.json())
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", headers=headers, timeout=30,
                      json={**body, "stream": True, "stream_options": {"include_usage": True}}) as streamed:
        assert streamed.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in streamed.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    for line in lines[:-1]:
        assert_valid_chunk(json.loads(line[6:]))


def test_it_lists_models_through_the_sdk(sdk):
    ids = {model.id for model in sdk.models.list()}
    assert set(MODELS_BY_PROVIDER.values()) <= ids
    assert {"gpt-4", "gpt-3.5-turbo", "gpt-4-turbo", "gemini-2.5-pro", "gemini-1.5-pro", "claude-opus-4-20250514"} <= ids


def test_it_retrieves_one_model_through_the_sdk(sdk):
    model = sdk.models.retrieve("claude-sonnet-4-20250514")
    assert (model.id, model.object, model.owned_by) == ("claude-sonnet-4-20250514", "model", "anthropic")
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("gpt-17")


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_gives_every_chunk_of_a_stream_one_id(sdk, provider, model):
    stream = sdk.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "One id for the whole stream"}],
        stream=True, stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None  # the usage chunk, written by the gateway itself
    assert len({chunk.id for chunk in chunks}) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_it_returns_one_tool_call_from_gemini_when_parallel_calls_are_off(sdk, stream):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    fields = {"model": "gemini-2.5-flash", "tools": tools, "parallel_tool_calls": False,
              "messages": [{"role": "user", "content": f"Weather in Oslo and Bergen? fake:tool=twice {stream}"}]}
    if not stream:
        calls = sdk.chat.completions.create(**fields).choices[0].message.tool_calls
        assert len(calls) == 1 and calls[0].function.name == "get_weather"
        assert len(sdk.chat.completions.create(**{**fields, "parallel_tool_calls": True}).choices[0].message.tool_calls) == 2
        return
    chunks = list(sdk.chat.completions.create(**fields, stream=True))
    indexes = {delta.index for chunk in chunks if chunk.choices for delta in chunk.choices[0].delta.tool_calls or []}
    assert indexes == {0}

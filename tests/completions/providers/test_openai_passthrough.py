"""The OpenAI adapter forwards requests and answers with as little work as possible."""

from __future__ import annotations

import pytest

from apps.completions.providers.types import SseEvent, StreamEventError

from .helpers import assemble, chat, fixture_bytes, fixture_json, user


def test_it_passes_unknown_fields_through_and_replaces_the_model(openai, openai_route):
    payload = chat(user("Hi"), temperature=1.7, logit_bias={"50256": -100}, reasoning_effort="low",
                   response_format={"type": "json_object"}, seed=7)
    request = openai.build_request(payload, route=openai_route, stream=False)
    assert request.url == "https://api.openai.com/v1/chat/completions"
    assert request.json == payload | {"model": "gpt-4o-2024-08-06"}
    assert payload["model"] == "client-model", "the client's payload is not mutated"


def test_it_always_asks_for_usage_when_streaming(openai, openai_route):
    request = openai.build_request(chat(user("Hi")), route=openai_route, stream=True)
    assert request.json["stream"] is True
    assert request.json["stream_options"] == {"include_usage": True}


def test_it_keeps_the_clients_other_stream_options(openai, openai_route):
    payload = chat(user("Hi"), stream=True, stream_options={"include_usage": False, "include_obfuscation": False})
    request = openai.build_request(payload, route=openai_route, stream=True)
    assert request.json["stream_options"] == {"include_usage": True, "include_obfuscation": False}
    assert payload["stream_options"] == {"include_usage": False, "include_obfuscation": False}


def test_it_drops_stream_fields_from_a_non_streamed_request(openai, openai_route):
    payload = chat(user("Hi"), stream=True, stream_options={"include_usage": True})
    request = openai.build_request(payload, route=openai_route, stream=False)
    assert "stream" not in request.json and "stream_options" not in request.json


def test_it_lets_max_completion_tokens_win_over_max_tokens(openai, openai_route):
    request = openai.build_request(chat(user("Hi"), max_tokens=10, max_completion_tokens=20),
                                   route=openai_route, stream=False)
    assert request.json["max_completion_tokens"] == 20 and "max_tokens" not in request.json
    request = openai.build_request(chat(user("Hi"), max_tokens=10), route=openai_route, stream=False)
    assert request.json["max_tokens"] == 10


def test_it_returns_the_upstream_body_unchanged(openai, openai_route):
    body = fixture_json("openai", "chat_text.json")
    assert openai.parse_response(body, route=openai_route) is body
    assert body["model"] == "gpt-4o-2024-08-06"


def test_it_refuses_a_body_without_choices(openai, openai_route):
    with pytest.raises(ValueError):
        openai.parse_response({"id": "x", "object": "chat.completion"}, route=openai_route)


def test_it_passes_chunks_through_and_swallows_the_usage_chunk(openai, openai_route, run_stream):
    raw = fixture_bytes("openai", "chat_text.sse")
    chunks, state = run_stream(openai, openai_route, raw)
    assert len(chunks) == 4
    assert chunks[1]["choices"][0]["delta"] == {"content": "Hello"}
    assert state.usage["total_tokens"] == 15
    assert state.usage["completion_tokens_details"]["reasoning_tokens"] == 0


def test_it_passes_tool_call_deltas_through(openai, openai_route, run_stream):
    chunks, state = run_stream(openai, openai_route, fixture_bytes("openai", "chat_tool_calls.sse"))
    answer = assemble(chunks)
    assert answer["tool_calls"] == {0: {"id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "name": "get_weather",
                                        "arguments": '{"city": "Oslo"}'}}
    assert state.finish_reason == "tool_calls"
    assert state.usage == {"prompt_tokens": 60, "completion_tokens": 16, "total_tokens": 76}


def test_it_yields_nothing_for_done(openai, openai_route):
    state = openai.start_stream(route=openai_route, completion_id="c", created=1)
    assert openai.parse_stream_event(state, SseEvent(data="[DONE]")) == []
    assert openai.finish_stream(state) == []


def test_it_raises_on_an_error_payload_in_the_stream(openai, openai_route, run_stream):
    with pytest.raises(StreamEventError) as caught:
        run_stream(openai, openai_route, fixture_bytes("openai", "stream_error.sse"))
    assert caught.value.message.startswith("The server had an error")
    assert caught.value.upstream_type == "server_error"


def test_it_reports_a_garbage_chunk_as_value_error(openai, openai_route):
    state = openai.start_stream(route=openai_route, completion_id="c", created=1)
    for data in ("not json", '{"id": "x"}', '[1, 2]'):
        with pytest.raises(ValueError):
            openai.parse_stream_event(state, SseEvent(data=data))

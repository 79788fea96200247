"""One suite every adapter must pass: a simple text request, its answer and its stream."""

from __future__ import annotations

import orjson
import pytest

from apps.completions.providers.registry import ADAPTERS

from .helpers import COMPLETION_ID, CREATED, chat, fixture_bytes, fixture_json, make_route, user

TEXT = "Hello! How can I help?"
CASES = {
    "openai": ("chat_text.json", "chat_text.sse"),
    "anthropic": ("messages_text.json", "messages_text.sse"),
    "gemini": ("generate_text.json", "stream_text.sse"),
}
EXPECTED_AUTH = {
    "openai": ("Authorization", "Bearer openai-secret"),
    "anthropic": ("x-api-key", "anthropic-secret"),
    "gemini": ("x-goog-api-key", "gemini-secret"),
}

protocols = pytest.mark.parametrize("protocol", sorted(CASES))


@protocols
@pytest.mark.parametrize("stream", [False, True])
def test_it_builds_an_authenticated_request_for_the_upstream_model(protocol, stream):
    route = make_route(protocol)
    request = ADAPTERS[protocol].build_request(chat(user("Hi")), route=route, stream=stream)
    header, value = EXPECTED_AUTH[protocol]
    assert request.headers[header] == value
    assert request.url.startswith(route.provider.base_url + "/")
    assert route.upstream_model in request.url or request.json["model"] == route.upstream_model
    assert "client-model" not in orjson.dumps(request.json).decode()
    assert ("stream" in request.url.lower() or request.json.get("stream") is True) == stream


@protocols
def test_it_turns_a_text_answer_into_a_valid_chat_completion(protocol, assert_valid_completion):
    route = make_route(protocol)
    response_file, _ = CASES[protocol]
    completion = ADAPTERS[protocol].parse_response(fixture_json(protocol, response_file), route=route)
    assert_valid_completion(completion)
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"] == {"role": "assistant", "content": TEXT, "refusal": None} | (
        {"annotations": []} if protocol == "openai" else {})
    assert completion["choices"][0]["finish_reason"] == "stop"
    usage = completion["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (9, 6, 15)


@protocols
@pytest.mark.parametrize("piece", [None, 1, 13])
def test_it_turns_a_text_stream_into_valid_chunks(protocol, piece, run_stream):
    route = make_route(protocol)
    _, stream_file = CASES[protocol]
    chunks, state = run_stream(ADAPTERS[protocol], route, fixture_bytes(protocol, stream_file), piece)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""} | (
        {"refusal": None} if protocol == "openai" else {})
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == TEXT
    assert chunks[-1]["choices"][0] | {"logprobs": None} == {
        "index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert all(chunk["choices"] for chunk in chunks), "usage chunks are the caller's job"
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert state.finish_reason == "stop"
    assert (state.usage["prompt_tokens"], state.usage["completion_tokens"], state.usage["total_tokens"]) == (9, 6, 15)


@protocols
def test_it_names_the_client_facing_model_in_translated_streams(protocol, run_stream):
    route = make_route(protocol)
    chunks, _ = run_stream(ADAPTERS[protocol], route, fixture_bytes(protocol, CASES[protocol][1]))
    if protocol == "openai":  # pass-through: the upstream's own id and model stay
        assert chunks[0]["model"] == "gpt-4o-2024-08-06"
    else:
        assert {(c["id"], c["created"], c["model"]) for c in chunks} == {(COMPLETION_ID, CREATED, route.name)}


@protocols
def test_it_reads_a_non_json_error_body_as_text(protocol):
    failure = ADAPTERS[protocol].parse_error(502, b"<html>Bad Gateway</html>" + b"x" * 2000)
    assert failure.status == 502
    assert failure.message.startswith("<html>Bad Gateway</html>")
    assert len(failure.message) <= 500
    assert failure.auth_failure is False


@protocols
def test_it_reads_an_empty_error_body(protocol):
    failure = ADAPTERS[protocol].parse_error(503, b"")
    assert "503" in failure.message


@protocols
@pytest.mark.parametrize("status", [401, 403])
def test_it_flags_401_and_403_as_the_gateways_key_failing(protocol, status):
    assert ADAPTERS[protocol].parse_error(status, b"{}").auth_failure is True

"""Translating Messages requests to the gateway's chat payload, and chunks back to events."""

import orjson
import pytest

from apps.completions.ingress import anthropic_messages as messages
from gateway_site.errors import InvalidRequest, ModelNotFound, RateLimitExceeded


def translate(**fields) -> dict:
    return messages.chat_payload({"model": "gpt-4o", "max_tokens": 10, **fields})


def test_it_turns_tool_results_into_tool_messages_before_the_users_text():
    payload = translate(messages=[
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "s"},
                                          {"type": "text", "text": "Checking."},
                                          {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}]},
        {"role": "user", "content": [{"type": "text", "text": "and?"},
                                     {"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
                                      "content": [{"type": "text", "text": "timeout"}]}]},
    ])
    assert payload["messages"][1:] == [
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "Error: timeout"},
        {"role": "user", "content": "and?"},
    ]


def test_it_translates_images_tools_and_tool_choice():
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
    payload = translate(
        messages=[{"role": "user", "content": [{"type": "text", "text": "what is it?"}, image]}],
        tools=[{"name": "look", "description": "Look closer", "input_schema": {"type": "object"}}],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        metadata={"user_id": "u-42"}, top_k=3, stream=True,
    )
    assert payload["messages"][0]["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    assert payload["tools"] == [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"},
                                                                  "description": "Look closer"}}]
    assert (payload["tool_choice"], payload["parallel_tool_calls"], payload["user"]) == ("required", False, "u-42")
    assert "top_k" not in payload and payload["stream_options"] == {"include_usage": True}
    named = translate(messages=[{"role": "user", "content": "x"}], tools=[{"name": "look", "input_schema": {}}],
                      tool_choice={"type": "tool", "name": "look"})
    assert named["tool_choice"] == {"type": "function", "function": {"name": "look"}}


def test_it_refuses_what_a_translated_model_cannot_read_and_drops_it_for_claude():
    document = {"role": "user", "content": [{"type": "document", "source": {}}, {"type": "text", "text": "sum up"}]}
    with pytest.raises(InvalidRequest, match="document"):
        translate(messages=[document])
    with pytest.raises(InvalidRequest, match="custom tools"):
        translate(messages=[{"role": "user", "content": "x"}], tools=[{"type": "web_search_20250305", "name": "web_search"}])
    lenient = messages.chat_payload({"model": "claude", "messages": [document]}, strict=False)
    assert lenient["messages"] == [{"role": "user", "content": "sum up"}]


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": "x"}], "max_tokens": 1},
    {"model": "m", "messages": [{"role": "user", "content": "x"}]},
    {"model": "m", "max_tokens": 1, "messages": []},
    {"model": "m", "max_tokens": 1, "messages": [{"role": "system", "content": "x"}]},
])
def test_it_refuses_a_malformed_request(body):
    with pytest.raises(InvalidRequest):
        messages.check_request(body)


def test_it_renders_errors_in_anthropics_shape_with_anthropics_statuses():
    assert messages.render_error(ModelNotFound("no such model"), "req_1") == (
        404, orjson.dumps({"type": "error", "error": {"type": "not_found_error", "message": "no such model"}}))
    status, body = messages.render_error(RateLimitExceeded(), "req_1")
    assert status == 429 and orjson.loads(body)["error"]["type"] == "rate_limit_error"


def test_it_maps_finish_reasons_and_usage():
    completion = {"choices": [{"message": {"content": None, "tool_calls": [
        {"id": "call_1", "function": {"name": "f", "arguments": "not json"}}]}, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4}}}
    answer = messages.message(completion, message_id="msg_1", model="gpt-4o")
    assert answer["content"] == [{"type": "tool_use", "id": "call_1", "name": "f", "input": {}}]
    assert answer["stop_reason"] == "tool_use"
    assert answer["usage"] == {"input_tokens": 6, "output_tokens": 3, "cache_creation_input_tokens": 0,
                               "cache_read_input_tokens": 4}
    assert [messages.stop_reason(reason) for reason in ("stop", "length", "content_filter")] == ["end_turn", "max_tokens", "refusal"]


def test_it_gives_each_parallel_tool_call_its_own_block():
    events = messages.MessageEvents(message_id="msg_1", model="gpt-4o")
    out = events.chunk({"choices": [{"delta": {"tool_calls": [
        {"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"x":'}}]}}]})
    out += events.chunk({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}}]})
    out += events.chunk({"choices": [{"delta": {"tool_calls": [
        {"index": 1, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}, "finish_reason": "tool_calls"}]})
    out += events.finish()
    parsed = [orjson.loads(event.split(b"\ndata: ", 1)[1]) for event in out]
    assert [(e["type"], e.get("index")) for e in parsed] == [
        ("message_start", None), ("ping", None),
        ("content_block_start", 0), ("content_block_delta", 0), ("content_block_delta", 0), ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_delta", 1), ("content_block_stop", 1),
        ("message_delta", None), ("message_stop", None),
    ]
    assert parsed[-2]["delta"]["stop_reason"] == "tool_use"


def test_it_estimates_tokens_from_characters():
    body = {"system": "abcd" * 5, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "x" * 40}, {"type": "tool_result", "tool_use_id": "t", "content": "y" * 20}]}]}
    assert messages.estimated_input_tokens(body) == 20  # (20 + 40 + 20) / 4

"""Structured outputs on Claude: schemas in the subset Claude accepts, a forced tool for older
models, and answers checked against the client's original schema."""

from __future__ import annotations

import orjson
import pytest

from apps.completions.providers.anthropic import ANSWER_TOOL
from apps.completions.providers.anthropic_schema import schema_mismatch, strict_schema
from apps.completions.providers.types import StreamEventError
from gateway_site.errors import InvalidRequest, ProviderError

from .helpers import chat, make_route, user

# What pydantic emits for a model with Field(ge=0, le=150), min_length/max_length, a nested
# model and a list with min_length=2: all refused by Claude's structured outputs as they are.
PERSON = {
    "type": "object", "title": "Person", "required": ["name", "age", "pets"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 20, "title": "Name"},
        "age": {"type": "integer", "minimum": 0, "maximum": 150, "description": "Years"},
        "email": {"type": "string", "format": "email"},
        "nickname": {"type": "string", "format": "hostname-ish", "pattern": "^[a-z]+$"},
        "pets": {"type": "array", "minItems": 2, "items": {"$ref": "#/$defs/Pet"}},
        "tags": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "kind": {"oneOf": [{"type": "string"}, {"type": "null"}]},
    },
    "$defs": {"Pet": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}},
}
PERSON_FORMAT = {"type": "json_schema", "json_schema": {"name": "Person", "schema": PERSON, "strict": True}}
GOOD_PERSON = {"name": "Ada", "age": 36, "pets": [{"name": "a"}, {"name": "b"}]}
WEATHER = {"type": "function", "function": {"name": "get_weather", "strict": True, "parameters": {
    "type": "object", "required": ["city"], "additionalProperties": False,
    "properties": {"city": {"type": "string", "minLength": 2}}}}}


@pytest.fixture
def legacy_route():
    return make_route("anthropic", structured_outputs=False)


def build(adapter, route, **fields):
    return adapter.build_request(chat(user("Describe Ada"), **fields), route=route, stream=False).json


def anthropic_message(*content, stop_reason="end_turn"):
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": list(content),
            "stop_reason": stop_reason, "usage": {"input_tokens": 5, "output_tokens": 7}}


def text_block(value):
    return {"type": "text", "text": orjson.dumps(value).decode()}


def tool_block(name, value):
    return {"type": "tool_use", "id": "toolu_1", "name": name, "input": value}


# --- The schema Claude is given ------------------------------------------------------------


def test_it_moves_unsupported_constraints_into_descriptions():
    strict = strict_schema(PERSON)
    properties = strict["properties"]
    assert properties["name"] == {"type": "string", "title": "Name", "description": "{minLength: 1, maxLength: 20}"}
    assert properties["age"] == {"type": "integer", "description": "Years\n\n{minimum: 0, maximum: 150}"}
    assert properties["pets"]["description"] == "{minItems: 2}" and "minItems" not in properties["pets"]
    assert properties["nickname"]["description"] == "{format: hostname-ish, pattern: ^[a-z]+$}"


def test_it_keeps_what_claude_supports():
    properties = strict_schema(PERSON)["properties"]
    assert properties["email"] == {"type": "string", "format": "email"}
    assert properties["tags"] == {"type": "array", "items": {"type": "string"}, "minItems": 1}
    assert properties["pets"]["items"] == {"$ref": "#/$defs/Pet"}
    assert properties["kind"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}  # oneOf is not supported


def test_it_closes_every_object_definitions_included():
    strict = strict_schema(PERSON)
    assert strict["additionalProperties"] is False
    assert strict["$defs"]["Pet"]["additionalProperties"] is False
    assert strict["required"] == ["name", "age", "pets"]


def test_it_refuses_a_schema_without_a_type_with_the_parameter_named(anthropic, anthropic_route):
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"properties": {"a": {}}}}}
    with pytest.raises(InvalidRequest) as caught:
        build(anthropic, anthropic_route, response_format=fmt)
    assert caught.value.param == "response_format.json_schema.schema"


def test_it_sends_the_strict_schema_as_output_config(anthropic, anthropic_route):
    body = build(anthropic, anthropic_route, response_format=PERSON_FORMAT)
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": strict_schema(PERSON)}}
    assert "tools" not in body


def test_it_gives_only_strict_tools_the_strict_schema(anthropic, anthropic_route):
    loose = {"type": "function", "function": {**WEATHER["function"], "name": "loose", "strict": False}}
    tools = build(anthropic, anthropic_route, tools=[WEATHER, loose])["tools"]
    assert tools[0]["input_schema"]["properties"]["city"] == {"type": "string", "description": "{minLength: 2}"}
    assert tools[1]["input_schema"] == WEATHER["function"]["parameters"] and tools[1]["strict"] is False


# --- Older models: a forced tool ------------------------------------------------------------


def test_it_forces_an_answer_tool_with_the_original_schema_on_older_models(anthropic, legacy_route):
    body = build(anthropic, legacy_route, response_format=PERSON_FORMAT)
    assert "output_config" not in body
    assert [tool["name"] for tool in body["tools"]] == [ANSWER_TOOL]
    assert body["tools"][0]["input_schema"] == PERSON  # a non-strict tool takes all of JSON Schema
    assert body["tool_choice"] == {"type": "tool", "name": ANSWER_TOOL, "disable_parallel_tool_use": True}


@pytest.mark.parametrize("choice, expected", [
    (None, {"type": "any"}),
    ("auto", {"type": "any"}),
    ("none", {"type": "tool", "name": ANSWER_TOOL, "disable_parallel_tool_use": True}),
    ({"type": "function", "function": {"name": "get_weather"}}, {"type": "tool", "name": "get_weather"}),
])
def test_it_lets_an_older_model_choose_between_client_tools_and_the_answer(anthropic, legacy_route, choice, expected):
    fields = {"tools": [WEATHER], "response_format": PERSON_FORMAT, **({"tool_choice": choice} if choice else {})}
    body = build(anthropic, legacy_route, **fields)
    assert [tool["name"] for tool in body["tools"]] == ["get_weather", ANSWER_TOOL]
    assert body["tool_choice"] == expected


def test_it_sends_older_models_no_strict_flag(anthropic, legacy_route):
    tool = build(anthropic, legacy_route, tools=[WEATHER])["tools"][0]
    assert "strict" not in tool and tool["input_schema"] == WEATHER["function"]["parameters"]


def test_it_returns_the_answer_tool_input_as_content(anthropic, legacy_route):
    payload = chat(user("Describe Ada"), response_format=PERSON_FORMAT)
    data = anthropic_message(text_block("preamble"), tool_block(ANSWER_TOOL, GOOD_PERSON), stop_reason="tool_use")
    choice = anthropic.parse_response(data, route=legacy_route, payload=payload)["choices"][0]
    assert orjson.loads(choice["message"]["content"]) == GOOD_PERSON
    assert choice["finish_reason"] == "stop" and "tool_calls" not in choice["message"]


# --- Answers checked against the original schema --------------------------------------------


def test_it_accepts_an_answer_that_matches_the_original_schema(anthropic, anthropic_route):
    payload = chat(user("Describe Ada"), response_format=PERSON_FORMAT)
    completion = anthropic.parse_response(anthropic_message(text_block(GOOD_PERSON)), route=anthropic_route, payload=payload)
    assert orjson.loads(completion["choices"][0]["message"]["content"]) == GOOD_PERSON


@pytest.mark.parametrize("structured_outputs", [True, False])
def test_it_refuses_an_answer_that_breaks_the_original_schema(anthropic, structured_outputs):
    route = make_route("anthropic", structured_outputs=structured_outputs)
    payload = chat(user("Describe Ada"), response_format=PERSON_FORMAT)
    bad = {**GOOD_PERSON, "age": -1}
    block = text_block(bad) if structured_outputs else tool_block(ANSWER_TOOL, bad)
    with pytest.raises(ProviderError) as caught:
        anthropic.parse_response(anthropic_message(block), route=route, payload=payload)
    assert caught.value.status == 502
    assert "does not match the requested JSON schema ($.age: -1 is less than the minimum of 0)" in caught.value.message


def test_it_refuses_an_answer_that_is_not_json(anthropic, anthropic_route):
    payload = chat(user("Describe Ada"), response_format=PERSON_FORMAT)
    data = anthropic_message({"type": "text", "text": "Ada is 36."})
    with pytest.raises(ProviderError, match="not JSON"):
        anthropic.parse_response(data, route=anthropic_route, payload=payload)


def test_it_leaves_an_answer_cut_short_to_its_finish_reason(anthropic, anthropic_route):
    payload = chat(user("Describe Ada"), response_format=PERSON_FORMAT)
    data = anthropic_message({"type": "text", "text": '{"name": "Ad'}, stop_reason="max_tokens")
    assert anthropic.parse_response(data, route=anthropic_route, payload=payload)["choices"][0]["finish_reason"] == "length"


def test_it_refuses_strict_tool_arguments_that_break_the_original_schema(anthropic, anthropic_route):
    payload = chat(user("Weather?"), tools=[WEATHER])
    good = anthropic_message(tool_block("get_weather", {"city": "Oslo"}), stop_reason="tool_use")
    assert anthropic.parse_response(good, route=anthropic_route, payload=payload)["choices"][0]["finish_reason"] == "tool_calls"
    bad = anthropic_message(tool_block("get_weather", {"city": "O"}), stop_reason="tool_use")
    with pytest.raises(ProviderError, match=r"arguments of get_weather .*\$\.city"):
        anthropic.parse_response(bad, route=anthropic_route, payload=payload)


def test_it_reports_where_an_answer_breaks_a_schema():
    assert schema_mismatch(GOOD_PERSON, PERSON) is None
    assert schema_mismatch({**GOOD_PERSON, "pets": [{"name": "a"}]}, PERSON) == '$.pets: [{"name":"a"}] has less than 2 items'
    assert schema_mismatch({**GOOD_PERSON, "pets": [{"name": "a"}, {}]}, PERSON) == '$.pets[1]: "name" is a required property'


def test_it_does_not_hold_a_schema_it_cannot_compile_against_the_answer():
    assert schema_mismatch({"a": 1}, {"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}}) is None


# --- Streams --------------------------------------------------------------------------------


def sse(*events):
    return b"".join(f"event: {e['type']}\ndata: {orjson.dumps(e).decode()}\n\n".encode() for e in events)


def answer_tool_stream(partials):
    start = {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 5, "output_tokens": 1}}}
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_1",
                                                                           "name": ANSWER_TOOL, "input": {}}}
    deltas = [{"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": p}}
              for p in partials]
    end = [{"type": "content_block_stop", "index": 0},
           {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
           {"type": "message_stop"}]
    return sse(start, block, *deltas, *end)


def stream_through(adapter, route, raw, payload):
    from apps.completions.providers.sse import SseParser

    state = adapter.start_stream(route=route, completion_id="chatcmpl-x", created=1, payload=payload)
    chunks = []
    for event in SseParser().feed(raw):
        chunks += adapter.parse_stream_event(state, event)
    return chunks, state


def test_it_streams_the_answer_tool_input_as_content(anthropic, legacy_route):
    payload = chat(user("Describe Ada"), response_format=PERSON_FORMAT)
    text = orjson.dumps(GOOD_PERSON).decode()
    chunks, _ = stream_through(anthropic, legacy_route, answer_tool_stream([text[:10], text[10:]]), payload)
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    assert "".join(delta.get("content") or "" for delta in deltas) == text
    assert not any("tool_calls" in delta for delta in deltas)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_it_ends_a_stream_whose_answer_breaks_the_schema_with_an_error(anthropic, legacy_route):
    payload = chat(user("Describe Ada"), response_format=PERSON_FORMAT, stream=True)
    raw = answer_tool_stream([orjson.dumps({**GOOD_PERSON, "name": ""}).decode()])
    with pytest.raises(StreamEventError) as caught:
        stream_through(anthropic, legacy_route, raw, payload)
    assert "$.name" in caught.value.message and caught.value.upstream_type == "schema_mismatch"

"""tools, tool_choice and parallel_tool_calls in upstream requests."""

from __future__ import annotations

import pytest

from gateway_site.errors import InvalidRequest

from .helpers import chat, user

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather", "strict": True,
    "parameters": {"type": "object", "additionalProperties": False,
                   "$schema": "https://json-schema.org/draft/2020-12/schema",
                   "properties": {"city": {"type": "string"},
                                  "additionalProperties": {"type": "string", "description": "a property so named"},
                                  "days": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                                                       "properties": {"d": {"type": "integer"}}}}},
                   "required": ["city"]}}}
NOW = {"type": "function", "function": {"name": "now"}}


def build(adapter, route, **fields):
    return adapter.build_request(chat(user("Hi"), **fields), route=route, stream=False).json


def test_it_declares_anthropic_tools(anthropic, anthropic_route):
    body = build(anthropic, anthropic_route, tools=[WEATHER, NOW])
    assert body["tools"] == [
        {"name": "get_weather", "description": "Current weather", "strict": True,
         # strict: in the schema subset Claude's structured outputs accept (test_structured_outputs.py)
         "input_schema": {"type": "object", "additionalProperties": False, "required": ["city"], "properties": {
             "city": {"type": "string"},
             "additionalProperties": {"type": "string", "description": "a property so named"},
             "days": {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                                  "properties": {"d": {"type": "integer"}}}}}}},
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in body


def test_it_declares_gemini_functions_without_unsupported_schema_keys(gemini, gemini_route):
    body = build(gemini, gemini_route, tools=[WEATHER, NOW])
    assert body["tools"] == [{"functionDeclarations": [
        {"name": "get_weather", "description": "Current weather",
         "parameters": {"type": "object", "required": ["city"], "properties": {
             "city": {"type": "string"},
             "additionalProperties": {"type": "string", "description": "a property so named"},
             "days": {"type": "array", "items": {"type": "object", "properties": {"d": {"type": "integer"}}}}}}},
        {"name": "now"},  # an OBJECT schema without properties is refused: no parameters at all
    ]}]


@pytest.mark.parametrize("choice, anthropic_choice, gemini_config", [
    ("auto", {"type": "auto"}, {"mode": "AUTO"}),
    ("required", {"type": "any"}, {"mode": "ANY"}),
    ("none", {"type": "none"}, {"mode": "NONE"}),
    ({"type": "function", "function": {"name": "now"}}, {"type": "tool", "name": "now"},
     {"mode": "ANY", "allowedFunctionNames": ["now"]}),
])
def test_it_maps_tool_choice(anthropic, anthropic_route, gemini, gemini_route, choice, anthropic_choice, gemini_config):
    assert build(anthropic, anthropic_route, tools=[NOW], tool_choice=choice)["tool_choice"] == anthropic_choice
    assert build(gemini, gemini_route, tools=[NOW], tool_choice=choice)["toolConfig"] == {
        "functionCallingConfig": gemini_config}


@pytest.mark.parametrize("choice, expected", [
    (None, {"type": "auto", "disable_parallel_tool_use": True}),
    ("required", {"type": "any", "disable_parallel_tool_use": True}),
    ("none", {"type": "none"}),
])
def test_it_maps_parallel_tool_calls_false_for_anthropic(anthropic, anthropic_route, choice, expected):
    fields = {"tools": [NOW], "parallel_tool_calls": False}
    if choice:
        fields["tool_choice"] = choice
    assert build(anthropic, anthropic_route, **fields)["tool_choice"] == expected


def test_it_leaves_parallel_tool_calls_true_as_the_default(anthropic, anthropic_route, gemini, gemini_route):
    assert "tool_choice" not in build(anthropic, anthropic_route, tools=[NOW], parallel_tool_calls=True)
    assert "toolConfig" not in build(gemini, gemini_route, tools=[NOW], parallel_tool_calls=False)


@pytest.mark.parametrize("fields, param", [
    ({"tools": [{"type": "custom", "custom": {"name": "grammar"}}]}, "tools[0]"),
    ({"tools": [{"type": "function", "function": {"description": "nameless"}}]}, "tools[0].function.name"),
    ({"tools": "get_weather"}, "tools"),
    ({"tools": [NOW], "tool_choice": "sometimes"}, "tool_choice"),
    ({"tools": [NOW], "tool_choice": {"type": "allowed_tools", "allowed_tools": {}}}, "tool_choice"),
])
@pytest.mark.parametrize("protocol", ["anthropic", "gemini"])
def test_it_refuses_tools_it_cannot_translate(protocol, fields, param, request):
    adapter, route = request.getfixturevalue(protocol), request.getfixturevalue(f"{protocol}_route")
    with pytest.raises(InvalidRequest) as caught:
        build(adapter, route, **fields)
    assert caught.value.param == param

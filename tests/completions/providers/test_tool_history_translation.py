"""Multi-turn conversations with tool calls and tool results, translated upstream."""

from __future__ import annotations

import pytest

from gateway_site.errors import InvalidRequest

from .helpers import assistant, chat, tool_call, tool_result, user

WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def weather_conversation(*extra):
    return chat(
        user("Weather in Oslo and Bergen?"),
        assistant("Checking.", tool_calls=[tool_call("call_1", "get_weather", '{"city": "Oslo"}'),
                                           tool_call("call_2", "get_weather", '{"city": "Bergen"}')]),
        tool_result("call_1", "4C"),
        tool_result("call_2", [{"type": "text", "text": "7C"}]),
        *extra,
        tools=[WEATHER_TOOL],
    )


def test_it_sends_anthropic_tool_use_and_tool_result_blocks(anthropic, anthropic_route):
    body = anthropic.build_request(weather_conversation(), route=anthropic_route, stream=False).json
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Oslo and Bergen?"}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Bergen"}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "4C"},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "7C"},
        ]},
    ]


def test_it_puts_anthropic_tool_results_before_user_text_in_the_same_turn(anthropic, anthropic_route):
    body = anthropic.build_request(weather_conversation(user("Also, in Fahrenheit?")),
                                   route=anthropic_route, stream=False).json
    assert [block["type"] for block in body["messages"][-1]["content"]] == ["tool_result", "tool_result", "text"]


def test_it_sends_gemini_function_calls_and_one_content_of_responses(gemini, gemini_route):
    body = gemini.build_request(weather_conversation(), route=gemini_route, stream=False).json
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Oslo and Bergen?"}]},
        {"role": "model", "parts": [
            {"text": "Checking."},
            {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
            {"functionCall": {"name": "get_weather", "args": {"city": "Bergen"}}},
        ]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"result": "4C"}}},
            {"functionResponse": {"name": "get_weather", "response": {"result": "7C"}}},
        ]},
    ]


def test_it_looks_up_the_gemini_function_name_by_tool_call_id(gemini, gemini_route):
    payload = chat(user("Go"),
                   assistant(tool_calls=[tool_call("a", "first", "{}"), tool_call("b", "second", "{}")]),
                   tool_result("b", "two"), tool_result("a", "one"))
    parts = gemini.build_request(payload, route=gemini_route, stream=False).json["contents"][-1]["parts"]
    assert [p["functionResponse"]["name"] for p in parts] == ["second", "first"]


def test_it_returns_a_gemini_thought_signature_carried_in_the_tool_call_id(gemini, gemini_route):
    payload = chat(user("Go"), assistant(tool_calls=[tool_call("call_9__thought__c2lnbmF0dXJl", "f", "{}")]),
                   tool_result("call_9__thought__c2lnbmF0dXJl", "done"))
    contents = gemini.build_request(payload, route=gemini_route, stream=False).json["contents"]
    assert contents[1]["parts"] == [{"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2lnbmF0dXJl"}]
    assert contents[2]["parts"][0]["functionResponse"]["name"] == "f"


def test_it_reads_empty_arguments_as_an_empty_object(anthropic, anthropic_route):
    payload = chat(user("Go"), assistant(tool_calls=[tool_call("c", "now", "")]), tool_result("c", "noon"))
    body = anthropic.build_request(payload, route=anthropic_route, stream=False).json
    assert body["messages"][1]["content"][0]["input"] == {}


def test_it_declares_a_placeholder_tool_when_history_has_tools_but_the_request_has_none(anthropic, anthropic_route):
    payload = weather_conversation()
    del payload["tools"]
    body = anthropic.build_request(payload, route=anthropic_route, stream=False).json
    assert [tool["name"] for tool in body["tools"]] == ["no_tools_available"]
    assert body["tool_choice"] == {"type": "none"}


@pytest.mark.parametrize("arguments", ['{"city": "Oslo"', "[1, 2]", '"Oslo"', "null"])
@pytest.mark.parametrize("protocol", ["anthropic", "gemini"])
def test_it_refuses_tool_arguments_that_are_not_a_json_object(protocol, arguments, request):
    adapter, route = request.getfixturevalue(protocol), request.getfixturevalue(f"{protocol}_route")
    payload = chat(user("Go"), assistant(tool_calls=[tool_call("c", "f", arguments)]), tool_result("c", "x"))
    with pytest.raises(InvalidRequest) as caught:
        adapter.build_request(payload, route=route, stream=False)
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"


@pytest.mark.parametrize("protocol", ["anthropic", "gemini"])
def test_it_refuses_a_tool_result_that_answers_no_earlier_call(protocol, request):
    adapter, route = request.getfixturevalue(protocol), request.getfixturevalue(f"{protocol}_route")
    payload = chat(user("Go"), assistant(tool_calls=[tool_call("c", "f", "{}")]), tool_result("other", "x"))
    with pytest.raises(InvalidRequest) as caught:
        adapter.build_request(payload, route=route, stream=False)
    assert caught.value.param == "messages[2].tool_call_id"


@pytest.mark.parametrize("call, param", [
    ({"type": "function", "function": {"name": "f", "arguments": "{}"}}, "messages[1].tool_calls[0]"),
    ({"id": "c", "type": "function", "function": {"arguments": "{}"}}, "messages[1].tool_calls[0].function.name"),
    ("call_1", "messages[1].tool_calls[0]"),
])
def test_it_refuses_malformed_tool_calls(anthropic, anthropic_route, call, param):
    with pytest.raises(InvalidRequest) as caught:
        anthropic.build_request(chat(user("Go"), assistant(tool_calls=[call])), route=anthropic_route, stream=False)
    assert caught.value.param == param

"""parallel_tool_calls: false on Gemini, which has no such switch: the first call is kept."""

from __future__ import annotations

from apps.completions.providers.sse import SseParser

from .helpers import assemble, chat, fixture_bytes, fixture_json, user

ONE_AT_A_TIME = chat(user("Weather in Oslo and Bergen?"), parallel_tool_calls=False)


def test_it_keeps_only_the_first_gemini_function_call(gemini, gemini_route):
    data = fixture_json("gemini", "generate_function_call.json")
    message = gemini.parse_response(data, route=gemini_route, payload=ONE_AT_A_TIME)["choices"][0]["message"]
    assert [call["function"]["arguments"] for call in message["tool_calls"]] == ['{"city":"Oslo"}']


def test_it_keeps_every_gemini_function_call_unless_told_otherwise(gemini, gemini_route):
    data = fixture_json("gemini", "generate_function_call.json")
    payload = chat(user("Weather in Oslo and Bergen?"), parallel_tool_calls=True)
    assert len(gemini.parse_response(data, route=gemini_route, payload=payload)["choices"][0]["message"]["tool_calls"]) == 2


def test_it_streams_only_the_first_gemini_function_call(gemini, gemini_route):
    state = gemini.start_stream(route=gemini_route, completion_id="chatcmpl-x", created=1, payload=ONE_AT_A_TIME)
    chunks = []
    for event in SseParser().feed(fixture_bytes("gemini", "stream_function_call.sse")):
        chunks += gemini.parse_stream_event(state, event)
    chunks += gemini.finish_stream(state)
    answer = assemble(chunks)
    assert [call["arguments"] for call in answer["tool_calls"].values()] == ['{"city":"Oslo"}']
    assert answer["finish_reason"] == "tool_calls"

"""Non-streamed Anthropic and Gemini answers become OpenAI chat completions."""

from __future__ import annotations

import orjson

from .helpers import fixture_json


def test_it_turns_anthropic_tool_use_into_tool_calls(anthropic, anthropic_route, assert_valid_completion):
    completion = anthropic.parse_response(fixture_json("anthropic", "messages_tool_use.json"), route=anthropic_route)
    assert_valid_completion(completion)
    assert completion["id"] == "msg_01Aq9w938a90dw8q"
    assert completion["model"] == "claude-sonnet-4-20250514"
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Checking both cities."
    calls = choice["message"]["tool_calls"]
    assert [(c["id"], c["type"], c["function"]["name"]) for c in calls] == [
        ("toolu_01A09q90qw90lq917835lq9", "function", "get_weather"),
        ("toolu_01B18r81rx81mr826724mr8", "function", "get_weather")]
    assert [orjson.loads(c["function"]["arguments"]) for c in calls] == [
        {"city": "Oslo"}, {"city": "Bergen", "unit": "celsius"}]


def test_it_gives_null_content_beside_tool_calls_only(anthropic, anthropic_route, assert_valid_completion):
    data = {"id": "msg_2", "type": "message", "role": "assistant", "model": "claude-x", "stop_reason": "tool_use",
            "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"},
                        {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}}],
            "usage": {"input_tokens": 3, "output_tokens": 4}}
    completion = anthropic.parse_response(data, route=anthropic_route)
    assert_valid_completion(completion)
    assert completion["choices"][0]["message"]["content"] is None
    assert completion["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == "{}"


def test_it_gives_empty_content_for_an_empty_anthropic_answer(anthropic, anthropic_route):
    data = {"id": "msg_3", "content": [], "stop_reason": "end_turn", "usage": {"input_tokens": 3, "output_tokens": 0}}
    assert anthropic.parse_response(data, route=anthropic_route)["choices"][0]["message"]["content"] == ""


def test_it_turns_gemini_function_calls_into_tool_calls(gemini, gemini_route, assert_valid_completion):
    completion = gemini.parse_response(fixture_json("gemini", "generate_function_call.json"), route=gemini_route)
    assert_valid_completion(completion)
    assert completion["id"] == "fnLgVaJS5Fcrdz7IPpbuLqQN"
    assert completion["model"] == "gemini-2.5-flash"
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls", "Gemini says STOP after function calls"
    assert choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert [orjson.loads(c["function"]["arguments"]) for c in calls] == [{"city": "Oslo"}, {"city": "Bergen"}]
    assert calls[0]["id"].startswith("call_")
    assert calls[0]["id"].endswith("__thought__CiQB0e2Kb3dRh+BYdbZvmulSN2Pwwc75DfQOZUz3L8xV7wwHq3c=")
    assert "__thought__" not in calls[1]["id"]
    assert calls[0]["id"] != calls[1]["id"]


def test_it_round_trips_a_gemini_thought_signature(gemini, gemini_route):
    completion = gemini.parse_response(fixture_json("gemini", "generate_function_call.json"), route=gemini_route)
    message = completion["choices"][0]["message"]
    results = [{"role": "tool", "tool_call_id": call["id"], "content": "4C"} for call in message["tool_calls"]]
    payload = {"model": "m", "messages": [{"role": "user", "content": "Weather?"}, message, *results]}
    contents = gemini.build_request(payload, route=gemini_route, stream=False).json["contents"]
    assert contents[1]["parts"][0]["thoughtSignature"] == "CiQB0e2Kb3dRh+BYdbZvmulSN2Pwwc75DfQOZUz3L8xV7wwHq3c="
    assert "thoughtSignature" not in contents[1]["parts"][1]
    assert [p["functionResponse"]["name"] for p in contents[2]["parts"]] == ["get_weather", "get_weather"]


def test_it_keeps_a_gemini_function_call_id(gemini, gemini_route):
    data = {"candidates": [{"content": {"parts": [{"functionCall": {"id": "fc_1", "name": "now"}}]},
                            "finishReason": "STOP"}]}
    call = gemini.parse_response(data, route=gemini_route)["choices"][0]["message"]["tool_calls"][0]
    assert call == {"id": "fc_1", "type": "function", "function": {"name": "now", "arguments": "{}"}}


def test_it_answers_a_blocked_gemini_prompt_with_null_content(gemini, gemini_route, assert_valid_completion):
    completion = gemini.parse_response(fixture_json("gemini", "blocked_prompt.json"), route=gemini_route)
    assert_valid_completion(completion)
    assert completion["choices"] == [{"index": 0, "logprobs": None, "finish_reason": "content_filter",
                                      "message": {"role": "assistant", "content": None, "refusal": None}}]
    assert completion["usage"]["prompt_tokens"] == 11


def test_it_turns_gemini_candidates_into_choices_and_drops_thoughts(gemini, gemini_route, assert_valid_completion):
    data = {"candidates": [
        {"content": {"parts": [{"text": "Thinking...", "thought": True}, {"text": "A"}]}, "finishReason": "STOP",
         "index": 0},
        {"content": {"parts": [{"text": "B"}, {"text": "C"}]}, "finishReason": "MAX_TOKENS", "index": 1},
        {"finishReason": "SAFETY", "index": 2},
    ], "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 3, "totalTokenCount": 7}}
    completion = gemini.parse_response(data, route=gemini_route)
    assert_valid_completion(completion)
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in completion["choices"]] == [
        (0, "A", "stop"), (1, "BC", "length"), (2, "", "content_filter")]
    assert completion["id"].startswith("chatcmpl-")

"""Upstream token counts become OpenAI usage (B6, C6)."""

from __future__ import annotations

import orjson

from apps.completions.providers.types import SseEvent


def test_it_counts_anthropic_cached_input_in_prompt_tokens(anthropic, anthropic_route, assert_valid_completion):
    data = {"id": "msg_1", "content": [{"type": "text", "text": "x"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 25, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1000,
                      "output_tokens": 40}}
    completion = anthropic.parse_response(data, route=anthropic_route)
    assert_valid_completion(completion)
    assert completion["usage"] == {"prompt_tokens": 1125, "completion_tokens": 40, "total_tokens": 1165,
                                   "prompt_tokens_details": {"cached_tokens": 1000}}


def test_it_tolerates_anthropic_null_cache_counts(anthropic, anthropic_route):
    data = {"id": "msg_1", "content": [], "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "cache_creation_input_tokens": None, "cache_read_input_tokens": None,
                      "output_tokens": 2}}
    assert anthropic.parse_response(data, route=anthropic_route)["usage"]["total_tokens"] == 7


def test_it_counts_gemini_thoughts_as_reasoning_completion_tokens(gemini, gemini_route):
    usage = gemini.parse_response({"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"}],
                                   "usageMetadata": {"promptTokenCount": 70, "candidatesTokenCount": 30,
                                                     "thoughtsTokenCount": 120, "cachedContentTokenCount": 64,
                                                     "toolUsePromptTokenCount": 5, "totalTokenCount": 225}},
                                  route=gemini_route)["usage"]
    assert usage == {"prompt_tokens": 70, "completion_tokens": 150, "total_tokens": 225,
                     "prompt_tokens_details": {"cached_tokens": 64},
                     "completion_tokens_details": {"reasoning_tokens": 120}}


def test_it_keeps_anthropic_stream_usage_cumulative(anthropic, anthropic_route):
    state = anthropic.start_stream(route=anthropic_route, completion_id="c", created=1)
    events = [
        {"type": "message_start", "message": {"id": "m", "usage": {"input_tokens": 25, "cache_read_input_tokens": 5,
                                                                   "output_tokens": 1}}},
        {"type": "message_delta", "delta": {"stop_reason": None}, "usage": {"output_tokens": 10}},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 40}},
    ]
    for event in events:
        anthropic.parse_stream_event(state, SseEvent(data=orjson.dumps(event).decode(), event=event["type"]))
    assert state.usage == {"prompt_tokens": 30, "completion_tokens": 40, "total_tokens": 70,
                           "prompt_tokens_details": {"cached_tokens": 5}}


def test_it_keeps_the_last_gemini_stream_usage(gemini, gemini_route):
    state = gemini.start_stream(route=gemini_route, completion_id="c", created=1)
    text = {"content": {"parts": [{"text": "x"}]}}
    events = [
        {"candidates": [text], "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}},
        {"candidates": [text], "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 6,
                                                 "totalTokenCount": 15}},
        {"candidates": [text | {"finishReason": "STOP"}]},  # no usage: must not erase the last
    ]
    for event in events:
        gemini.parse_stream_event(state, SseEvent(data=orjson.dumps(event).decode()))
    assert (state.usage["prompt_tokens"], state.usage["completion_tokens"], state.usage["total_tokens"]) == (9, 6, 15)

"""Upstream stop reasons map to OpenAI finish reasons (B6, C6), streamed or not."""

from __future__ import annotations

import orjson
import pytest

from apps.completions.providers.types import SseEvent

ANTHROPIC = [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
    ("refusal", "content_filter"), ("pause_turn", "stop"), ("model_context_window_exceeded", "length"),
    ("some_new_reason", "stop"),
]
GEMINI = [
    ("STOP", "stop"), ("MAX_TOKENS", "length"), ("SAFETY", "content_filter"), ("RECITATION", "content_filter"),
    ("LANGUAGE", "content_filter"), ("OTHER", "content_filter"), ("BLOCKLIST", "content_filter"),
    ("PROHIBITED_CONTENT", "content_filter"), ("SPII", "content_filter"), ("IMAGE_SAFETY", "content_filter"),
    ("MALFORMED_FUNCTION_CALL", "stop"), ("UNEXPECTED_TOOL_CALL", "stop"), ("TOO_MANY_TOOL_CALLS", "stop"),
    ("FINISH_REASON_UNSPECIFIED", "stop"), ("SOMETHING_NEW", "stop"),
]


@pytest.mark.parametrize("stop_reason, expected", ANTHROPIC)
def test_it_maps_anthropic_stop_reasons(anthropic, anthropic_route, stop_reason, expected):
    data = {"id": "msg_1", "content": [{"type": "text", "text": "x"}], "stop_reason": stop_reason,
            "usage": {"input_tokens": 1, "output_tokens": 1}}
    assert anthropic.parse_response(data, route=anthropic_route)["choices"][0]["finish_reason"] == expected
    state = anthropic.start_stream(route=anthropic_route, completion_id="c", created=1)
    event = {"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": {"output_tokens": 1}}
    chunks = anthropic.parse_stream_event(state, SseEvent(data=orjson.dumps(event).decode(), event="message_delta"))
    assert chunks[-1]["choices"][0]["finish_reason"] == expected == state.finish_reason


@pytest.mark.parametrize("reason, expected", GEMINI)
def test_it_maps_gemini_finish_reasons(gemini, gemini_route, reason, expected):
    data = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": reason}]}
    assert gemini.parse_response(data, route=gemini_route)["choices"][0]["finish_reason"] == expected
    state = gemini.start_stream(route=gemini_route, completion_id="c", created=1)
    chunks = gemini.parse_stream_event(state, SseEvent(data=orjson.dumps(data).decode()))
    assert chunks[-1]["choices"][0]["finish_reason"] == expected == state.finish_reason


def test_it_reports_tool_calls_whatever_gemini_says(gemini, gemini_route):
    data = {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {}}}]},
                            "finishReason": "MAX_TOKENS"}]}
    assert gemini.parse_response(data, route=gemini_route)["choices"][0]["finish_reason"] == "tool_calls"

"""Garbage from an upstream raises ValueError, which the caller turns into a 502."""

from __future__ import annotations

import pytest

from apps.completions.providers.types import SseEvent

RESPONSES = {
    "anthropic": [{}, {"id": "m", "content": [{"text": "no type"}], "usage": {"input_tokens": 1}},
                  {"id": "m", "content": [], "stop_reason": "end_turn"}, {"id": "m", "content": "text"}],
    "gemini": [{}, {"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]},
               {"candidates": "nope"}],
}
EVENTS = {
    "anthropic": ["not json", '{"type": "message_start"}', '{"type": "content_block_delta", "index": 0}',
                  '{"type": "content_block_delta", "index": 9, "delta": {"type": "input_json_delta", '
                  '"partial_json": "{"}}', "[1]"],
    "gemini": ["not json", '{"candidates": [{"content": {"parts": [{"functionCall": {}}]}}]}', "[1]", "null"],
}


@pytest.mark.parametrize("protocol, data", [(p, d) for p, cases in RESPONSES.items() for d in cases])
def test_it_raises_value_error_for_a_malformed_response(protocol, data, request):
    adapter, route = request.getfixturevalue(protocol), request.getfixturevalue(f"{protocol}_route")
    with pytest.raises(ValueError):
        adapter.parse_response(data, route=route)


@pytest.mark.parametrize("protocol, data", [(p, d) for p, cases in EVENTS.items() for d in cases])
def test_it_raises_value_error_for_a_malformed_stream_event(protocol, data, request):
    adapter, route = request.getfixturevalue(protocol), request.getfixturevalue(f"{protocol}_route")
    state = adapter.start_stream(route=route, completion_id="c", created=1)
    with pytest.raises(ValueError):
        adapter.parse_stream_event(state, SseEvent(data=data))

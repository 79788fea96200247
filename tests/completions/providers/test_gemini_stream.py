"""Gemini stream events become OpenAI chat.completion.chunk objects (C3, C6)."""

from __future__ import annotations

import orjson
import pytest

from apps.completions.providers.types import SseEvent, StreamEventError

from .helpers import assemble, fixture_bytes


def event(data: dict) -> SseEvent:
    return SseEvent(data=orjson.dumps(data).decode())


@pytest.mark.parametrize("piece", [None, 1, 50])
def test_it_streams_each_function_call_as_one_tool_call_delta(gemini, gemini_route, run_stream, piece):
    chunks, state = run_stream(gemini, gemini_route, fixture_bytes("gemini", "stream_function_call.sse"), piece)
    deltas = [c["choices"][0]["delta"]["tool_calls"] for c in chunks if "tool_calls" in c["choices"][0]["delta"]]
    assert len(deltas) == 2
    first, second = deltas[0][0], deltas[1][0]
    assert (first["index"], first["type"], first["function"]) == (
        0, "function", {"name": "get_weather", "arguments": '{"city":"Oslo"}'})
    assert first["id"].startswith("call_")
    assert first["id"].endswith("__thought__CiQB0e2Kb3dRh+BYdbZvmulSN2Pwwc75DfQOZUz3L8xV7wwHq3c=")
    assert (second["index"], second["id"]) == (1, "fc_bergen")
    answer = assemble(chunks)
    assert answer["content"] == "Let me check."
    assert answer["finish_reason"] == "tool_calls" == state.finish_reason
    assert state.usage["completion_tokens_details"] == {"reasoning_tokens": 120}


def test_it_finishes_when_the_connection_closes_without_finish_reason(gemini, gemini_route, run_stream):
    raw = b'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]}\r\n\r\n'
    chunks, state = run_stream(gemini, gemini_route, raw)
    assert [c["choices"][0]["delta"] for c in chunks] == [{"role": "assistant", "content": ""}, {"content": "Hi"}, {}]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" == state.finish_reason


def test_it_adds_nothing_when_gemini_sent_finish_reason(gemini, gemini_route, run_stream):
    _, state = run_stream(gemini, gemini_route, fixture_bytes("gemini", "stream_text.sse"))
    assert gemini.finish_stream(state) == []


def test_it_skips_thought_parts_and_empty_text(gemini, gemini_route):
    state = gemini.start_stream(route=gemini_route, completion_id="c", created=1)
    chunks = gemini.parse_stream_event(state, event({"candidates": [{"content": {"parts": [
        {"text": "planning...", "thought": True}, {"text": ""}, {"text": "Answer"}]}}]}))
    assert [c["choices"][0]["delta"] for c in chunks] == [{"role": "assistant", "content": ""}, {"content": "Answer"}]


def test_it_streams_a_blocked_prompt_as_content_filter(gemini, gemini_route):
    state = gemini.start_stream(route=gemini_route, completion_id="c", created=1)
    chunks = gemini.parse_stream_event(state, event({"promptFeedback": {"blockReason": "SAFETY"},
                                                     "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}}))
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, "content_filter"]
    assert gemini.finish_stream(state) == []
    assert state.usage["prompt_tokens"] == 5


def test_it_streams_several_candidates_as_several_choices(gemini, gemini_route, run_stream):
    raw = b"".join(b"data: " + orjson.dumps(data) + b"\n\n" for data in [
        {"candidates": [{"content": {"parts": [{"text": "A"}]}, "index": 0},
                        {"content": {"parts": [{"text": "B"}]}, "index": 1}]},
        {"candidates": [{"content": {"parts": [{"text": "!"}]}, "finishReason": "STOP", "index": 0}]},
        {"candidates": [{"content": {"parts": [{"text": "?"}]}, "finishReason": "MAX_TOKENS", "index": 1}]},
    ])
    chunks, _ = run_stream(gemini, gemini_route, raw)
    assert (assemble(chunks, 0)["content"], assemble(chunks, 0)["finish_reason"]) == ("A!", "stop")
    assert (assemble(chunks, 1)["content"], assemble(chunks, 1)["finish_reason"]) == ("B?", "length")
    assert assemble(chunks, 1)["role"] == "assistant"


def test_it_raises_on_an_error_payload_in_the_stream(gemini, gemini_route, run_stream):
    with pytest.raises(StreamEventError) as caught:
        run_stream(gemini, gemini_route, fixture_bytes("gemini", "stream_error.sse"))
    assert caught.value.upstream_type == "UNAVAILABLE"
    assert "overloaded" in caught.value.message

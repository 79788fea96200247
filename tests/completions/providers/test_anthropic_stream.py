"""Anthropic stream events become OpenAI chat.completion.chunk objects (B3, B6)."""

from __future__ import annotations

import orjson
import pytest

from apps.completions.providers.types import SseEvent, StreamEventError

from .helpers import assemble, fixture_bytes


def event(data: dict) -> SseEvent:
    return SseEvent(data=orjson.dumps(data).decode(), event=data["type"])


@pytest.mark.parametrize("piece", [None, 1, 64])
def test_it_streams_tool_calls_with_openai_indexes(anthropic, anthropic_route, run_stream, piece):
    chunks, state = run_stream(anthropic, anthropic_route, fixture_bytes("anthropic", "messages_tool_use.sse"), piece)
    answer = assemble(chunks)
    assert answer["content"] == "Checking both cities."
    assert answer["tool_calls"] == {
        0: {"id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "arguments": '{"city": "Oslo"}'},
        1: {"id": "toolu_01B18r81rx81mr826724mr8", "name": "get_time", "arguments": "{}"},
    }
    assert answer["finish_reason"] == "tool_calls" == state.finish_reason
    assert state.usage["completion_tokens"] == 92


def test_it_sends_id_and_name_first_then_argument_fragments(anthropic, anthropic_route, run_stream):
    chunks, _ = run_stream(anthropic, anthropic_route, fixture_bytes("anthropic", "messages_tool_use.sse"))
    deltas = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks if "tool_calls" in c["choices"][0]["delta"]]
    assert deltas[:3] == [
        {"index": 0, "id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
         "function": {"name": "get_weather", "arguments": ""}},
        {"index": 0, "function": {"arguments": '{"city": '}},
        {"index": 0, "function": {"arguments": '"Oslo"}'}},
    ]


def test_it_starts_with_a_role_chunk_and_ends_with_a_finish_chunk(anthropic, anthropic_route, run_stream):
    chunks, _ = run_stream(anthropic, anthropic_route, fixture_bytes("anthropic", "messages_text.sse"))
    assert chunks[0]["choices"][0] == {"index": 0, "delta": {"role": "assistant", "content": ""},
                                       "logprobs": None, "finish_reason": None}
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert len(chunks) == 4, "ping, block start/stop and message_stop yield nothing"


def test_it_raises_on_an_error_event_after_200(anthropic, anthropic_route, run_stream):
    with pytest.raises(StreamEventError) as caught:
        run_stream(anthropic, anthropic_route, fixture_bytes("anthropic", "stream_overloaded.sse"))
    assert (caught.value.message, caught.value.upstream_type) == ("Overloaded", "overloaded_error")


def test_it_ignores_thinking_and_unknown_events(anthropic, anthropic_route):
    state = anthropic.start_stream(route=anthropic_route, completion_id="c", created=1)
    for data in [{"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
                 {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hm"}},
                 {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "s"}},
                 {"type": "content_block_stop", "index": 0},
                 {"type": "brand_new_event", "stuff": 1}]:
        assert anthropic.parse_stream_event(state, event(data)) == []
    assert anthropic.parse_stream_event(state, SseEvent(data='{"type": "ping"}', event="ping")) == []


def test_it_finishes_a_stream_that_ended_without_message_delta(anthropic, anthropic_route):
    state = anthropic.start_stream(route=anthropic_route, completion_id="c", created=1)
    anthropic.parse_stream_event(state, event({"type": "message_start", "message": {"usage": {"input_tokens": 1}}}))
    assert [c["choices"][0]["finish_reason"] for c in anthropic.finish_stream(state)] == ["stop"]
    assert anthropic.finish_stream(state) == []


def test_it_adds_nothing_when_the_stream_finished_normally(anthropic, anthropic_route, run_stream):
    chunks, state = run_stream(anthropic, anthropic_route, fixture_bytes("anthropic", "messages_text.sse"))
    assert anthropic.finish_stream(state) == []
    assert sum(1 for c in chunks if c["choices"][0]["finish_reason"]) == 1

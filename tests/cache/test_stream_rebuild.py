"""A relayed stream is rebuilt into the completion it amounts to, tool calls included,
and a stored completion replays as the chunks it came from."""

import orjson

from apps.cache.replay import CompletionBuilder, content_pieces, replay_events


def chunk(delta=None, finish_reason=None, index=0):
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000, "model": "gpt-4o",
            "choices": [{"index": index, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}]}


USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}


def test_it_joins_content_deltas_into_one_message():
    builder = CompletionBuilder()
    for part in (chunk({"role": "assistant", "content": ""}), chunk({"content": "Hello"}), chunk({"content": " there"}),
                 chunk(finish_reason="stop")):
        builder.add(part)
    completion = builder.completion(USAGE)
    assert completion["object"] == "chat.completion"
    assert completion["choices"] == [{"index": 0, "message": {"role": "assistant", "content": "Hello there", "refusal": None},
                                      "logprobs": None, "finish_reason": "stop"}]
    assert completion["usage"] == USAGE


def test_it_rebuilds_tool_calls_from_fragments():
    builder = CompletionBuilder()
    builder.add(chunk({"role": "assistant", "content": None}))
    builder.add(chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                       "function": {"name": "get_weather", "arguments": ""}}]}))
    for fragment in ('{"city"', ': "Os', 'lo"}'):
        builder.add(chunk({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]}))
    builder.add(chunk({"tool_calls": [{"index": 1, "id": "call_2", "type": "function",
                                       "function": {"name": "get_time", "arguments": "{}"}}]}))
    builder.add(chunk(finish_reason="tool_calls"))
    message = builder.completion(USAGE)["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]


def test_it_keeps_choices_apart():
    builder = CompletionBuilder()
    builder.add(chunk({"content": "one"}, index=0))
    builder.add(chunk({"content": "two"}, index=1))
    builder.add(chunk(finish_reason="stop", index=1))
    builder.add(chunk(finish_reason="stop", index=0))
    choices = builder.completion(USAGE)["choices"]
    assert [c["message"]["content"] for c in choices] == ["one", "two"]


def test_it_refuses_to_rebuild_what_it_cannot_read():
    builder = CompletionBuilder()
    builder.add(chunk({"content": "fine"}))
    builder.add({"choices": ["not a choice"]})
    assert builder.completion(USAGE) is None


def test_it_replays_a_completion_as_the_chunks_it_came_from():
    builder = CompletionBuilder()
    text = "A cached answer that is long enough to be cut into several pieces when it is replayed to a client."
    for part in (chunk({"role": "assistant", "content": ""}), chunk({"content": text}), chunk(finish_reason="stop")):
        builder.add(part)
    stored = builder.completion(USAGE)
    events = replay_events(stored, include_usage=True)
    assert events[-1] == b"data: [DONE]\n\n"
    chunks = [orjson.loads(event[6:]) for event in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == USAGE
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    rebuilt = CompletionBuilder()
    for part in chunks:
        rebuilt.add(part)
    assert rebuilt.completion(USAGE)["choices"] == stored["choices"]
    assert len(content_pieces(text)) > 1


def test_it_sends_usage_only_when_asked():
    completion = {"id": "x", "created": 1, "model": "gpt-4o", "usage": USAGE,
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}]}
    assert not any(b'"usage"' in event for event in replay_events(completion, include_usage=False))

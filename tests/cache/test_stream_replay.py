"""A cached answer is served to a streaming client as a proper SSE stream, which the
official openai SDK reads like any other (content, tool calls, usage)."""

import pytest

from tests.cache.served import sdk, stored, unique, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_streams_a_cached_answer_that_the_sdk_reads(gateway, key_for, namespace):
    client = sdk(gateway, key_for(namespace))
    messages = [{"role": "user", "content": unique("Tell me about caches")}]
    first = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=messages)
    assert first.headers["X-Cache"] == "MISS"
    answer = first.parse()
    wait_until(lambda: stored({"model": "gpt-4o", "messages": messages}, namespace))

    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=messages, stream=True, stream_options={"include_usage": True},
    )
    assert raw.headers["X-Cache"] == "HIT-EXACT"
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == answer.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == answer.usage.total_tokens


def test_it_streams_cached_tool_calls_that_the_sdk_reads(gateway, key_for, namespace):
    client = sdk(gateway, key_for(namespace))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]
    messages = [{"role": "user", "content": unique("Weather in Oslo? fake:tool")}]
    answer = client.chat.completions.create(model="gpt-4o", messages=messages, tools=tools)
    wait_until(lambda: stored({"model": "gpt-4o", "messages": messages, "tools": tools}, namespace))

    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=messages, tools=tools, stream=True)
    assert raw.headers["X-Cache"] == "HIT-EXACT"
    calls: dict[int, dict] = {}
    finish = None
    for chunk in raw.parse():
        for delta_call in chunk.choices[0].delta.tool_calls or ():
            call = calls.setdefault(delta_call.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = delta_call.id or call["id"]
            call["name"] += (delta_call.function.name or "") if delta_call.function else ""
            call["arguments"] += (delta_call.function.arguments or "") if delta_call.function else ""
        finish = chunk.choices[0].finish_reason or finish
    expected = answer.choices[0].message.tool_calls[0]
    assert calls == {0: {"id": expected.id, "name": "get_weather", "arguments": expected.function.arguments}}
    assert finish == "tool_calls"


def test_it_serves_a_cached_answer_as_json_with_a_new_id(gateway, key_for, namespace):
    client = sdk(gateway, key_for(namespace))
    messages = [{"role": "user", "content": unique("What is a cache?")}]
    first = client.chat.completions.create(model="gpt-4o", messages=messages)
    wait_until(lambda: stored({"model": "gpt-4o", "messages": messages}, namespace))
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=messages)
    assert raw.headers["X-Cache"] == "HIT-EXACT"
    second = raw.parse()
    assert second.choices[0].message.content == first.choices[0].message.content
    assert second.id != first.id and second.id == "chatcmpl-" + raw.headers["X-Request-ID"][4:]

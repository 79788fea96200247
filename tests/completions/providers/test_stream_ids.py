"""One stream, one id: the chunks the gateway adds carry the id of the chunks it relays."""

from __future__ import annotations

from apps.completions.providers.sse import SseParser

from .helpers import COMPLETION_ID, CREATED, fixture_bytes


def stream(adapter, route, raw):
    state = adapter.start_stream(route=route, completion_id=COMPLETION_ID, created=CREATED)
    chunks = [chunk for event in SseParser().feed(raw) for chunk in adapter.parse_stream_event(state, event)]
    return chunks + adapter.finish_stream(state), state


def test_it_names_an_openai_stream_after_its_upstream_chunks(openai, openai_route):
    chunks, state = stream(openai, openai_route, fixture_bytes("openai", "chat_text.sse"))
    assert {chunk["id"] for chunk in chunks} == {"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"}
    assert state.completion_id == "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"  # the usage chunk's id


def test_it_keeps_the_gateway_id_for_streams_it_translates(anthropic, anthropic_route):
    chunks, state = stream(anthropic, anthropic_route, fixture_bytes("anthropic", "messages_text.sse"))
    assert {chunk["id"] for chunk in chunks} == {COMPLETION_ID} == {state.completion_id}

"""The incremental SSE parser and the chunk encoder."""

from __future__ import annotations

import orjson

from apps.completions.providers.sse import SseParser
from gateway_site.sse import DONE
from gateway_site.sse import encode_event as encode_chunk
from apps.completions.providers.types import SseEvent

from .helpers import fixture_bytes, split_bytes


def feed_all(pieces: list[bytes]) -> list[SseEvent]:
    parser = SseParser()
    events = []
    for piece in pieces:
        events += parser.feed(piece)
    return events


def test_it_parses_complete_events():
    events = feed_all([b'data: {"a":1}\n\ndata: {"b":2}\n\n'])
    assert events == [SseEvent(data='{"a":1}'), SseEvent(data='{"b":2}')]


def test_it_joins_events_split_across_chunks_at_every_byte():
    raw = b'event: message_start\ndata: {"type":"message_start"}\n\ndata: [DONE]\n\n'
    expected = [SseEvent(data='{"type":"message_start"}', event="message_start"), SseEvent(data="[DONE]")]
    for size in range(1, len(raw) + 1):
        assert feed_all(split_bytes(raw, size)) == expected, size


def test_it_accepts_crlf_lf_and_lone_cr_line_endings():
    assert feed_all([b"data: a\r\n\r\n"]) == [SseEvent(data="a")]
    assert feed_all([b"data: a\r\rdata: b\n\n"]) == [SseEvent(data="a"), SseEvent(data="b")]


def test_it_does_not_read_a_crlf_split_between_chunks_as_two_line_ends():
    # "\r" ends one chunk and "\n" starts the next: one line end, not a blank line.
    events = feed_all([b"data: a\r", b"\ndata: b\r", b"\n\r\n"])
    assert events == [SseEvent(data="a\nb")]


def test_it_skips_comments_and_unknown_fields():
    events = feed_all([b": keep-alive\n\nid: 7\nretry: 100\nfoo: bar\ndata: x\n\n"])
    assert events == [SseEvent(data="x")]


def test_it_joins_multi_line_data_with_newlines():
    assert feed_all([b"data: first\ndata:second\ndata:  third\n\n"]) == [SseEvent(data="first\nsecond\n third")]


def test_it_keeps_the_event_name_for_one_event_only():
    events = feed_all([b"event: ping\ndata: {}\n\ndata: {}\n\n"])
    assert [e.event for e in events] == ["ping", None]


def test_it_ignores_an_event_without_data():
    assert feed_all([b"event: ping\n\ndata: x\n\n"]) == [SseEvent(data="x")]


def test_it_decodes_utf8_split_inside_a_character():
    raw = "data: héllo ✓\n\n".encode()
    assert feed_all(split_bytes(raw, 1)) == [SseEvent(data="héllo ✓")]


def test_it_flushes_an_event_left_open_when_the_connection_closes():
    parser = SseParser()
    assert parser.feed(b'data: {"last": true}') == []
    assert parser.flush() == [SseEvent(data='{"last": true}')]
    assert parser.flush() == []


def test_it_parses_recorded_gemini_stream_with_crlf_separators():
    events = feed_all(split_bytes(fixture_bytes("gemini", "stream_text.sse"), 7))
    assert len(events) == 3
    assert all(orjson.loads(e.data)["responseId"] == "mLgVaIS5Fcrdz7IPpbuLqQM" for e in events)


def test_it_encodes_a_chunk_as_one_data_line():
    assert encode_chunk({"a": [1, "é"]}) == 'data: {"a":[1,"é"]}\n\n'.encode()
    assert DONE == b"data: [DONE]\n\n"

"""Tests of the fake upstream itself, over real HTTP against one shared subprocess."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .runner import FakeUpstream

OPENAI_HEADERS = {"Authorization": "Bearer test-key"}
ANTHROPIC_HEADERS = {"x-api-key": "test-key", "anthropic-version": "2023-06-01"}
GEMINI_HEADERS = {"x-goog-api-key": "test-key"}
WEATHER_TOOL_OPENAI = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def client(fake: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, timeout=5, trust_env=False) as http:
        yield http


def tag() -> str:
    return uuid.uuid4().hex[:8]


def openai_body(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def anthropic_body(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "claude-x", "max_tokens": 50, "messages": [{"role": "user", "content": text}], **extra}


def gemini_body(text: str, **extra: Any) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}


def sse_events(lines: Iterator[str]) -> list[tuple[str | None, str]]:
    """(event name, data) pairs of an SSE body."""
    events, name = [], None
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, line[6:]))
            name = None
    return events


def post_openai(client: httpx.Client, text: str, **extra: Any) -> httpx.Response:
    return client.post("/openai/v1/chat/completions", json=openai_body(text, **extra), headers=OPENAI_HEADERS)


def stream_lines(client: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str]) -> list[str]:
    with client.stream("POST", url, json=body, headers=headers) as response:
        assert response.status_code == 200
        return list(response.iter_lines())


def test_it_answers_openai_deterministically(client: httpx.Client) -> None:
    body = openai_body("hello there", messages=[
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hello there"}]},
    ])
    answer = client.post("/openai/v1/chat/completions", json=body, headers=OPENAI_HEADERS).json()
    assert answer["choices"][0]["message"]["content"] == "This is a fake answer from openai to: hello there"
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"]["prompt_tokens"] == 4
    assert answer["usage"]["completion_tokens"] == 10
    assert answer["usage"]["total_tokens"] == 14


def test_it_streams_openai_word_by_word_with_usage_last(client: httpx.Client) -> None:
    body = openai_body("hi", stream=True, stream_options={"include_usage": True})
    events = sse_events(iter(stream_lines(client, "/openai/v1/chat/completions", body, OPENAI_HEADERS)))
    assert events[-1][1] == "[DONE]"
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 9
    assert all(c["usage"] is None for c in chunks[:-1])
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
    assert text == "This is a fake answer from openai to: hi"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


def test_it_streams_an_openai_tool_call_in_fragments(client: httpx.Client) -> None:
    body = openai_body("weather? fake:tool", stream=True, tools=WEATHER_TOOL_OPENAI)
    lines = stream_lines(client, "/openai/v1/chat/completions", body, OPENAI_HEADERS)
    chunks = [json.loads(data) for _, data in sse_events(iter(lines))[:-1]]
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks if "tool_calls" in c["choices"][0]["delta"]]
    assert calls[0]["id"] and calls[0]["function"]["name"] == "get_weather"
    assert len(calls) > 2
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"city": "Oslo"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_it_answers_in_text_after_a_tool_result(client: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": "weather? fake:tool"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "4C"},
    ]
    response = post_openai(client, "", messages=messages, tools=WEATHER_TOOL_OPENAI).json()
    assert response["choices"][0]["finish_reason"] == "stop"
    assert response["usage"]["prompt_tokens"] == 3


def test_it_answers_anthropic_and_streams_its_events(client: httpx.Client) -> None:
    url = "/anthropic/v1/messages"
    answer = client.post(url, json=anthropic_body("hi", system="Be brief"), headers=ANTHROPIC_HEADERS).json()
    assert answer["content"] == [{"type": "text", "text": "This is a fake answer from anthropic to: hi"}]
    assert answer["usage"]["input_tokens"] == 3 and answer["usage"]["output_tokens"] == 9
    events = sse_events(iter(stream_lines(client, url, anthropic_body("hi", stream=True), ANTHROPIC_HEADERS)))
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-4:] == ["content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    texts = [json.loads(d)["delta"]["text"] for n, d in events if n == "content_block_delta"]
    assert "".join(texts) == answer["content"][0]["text"]
    assert json.loads(events[-2][1])["usage"]["output_tokens"] == 9


def test_it_streams_an_anthropic_tool_use_block(client: httpx.Client) -> None:
    body = anthropic_body("weather? fake:tool=text", stream=True, tools=[{"name": "get_weather", "input_schema": {}}])
    events = sse_events(iter(stream_lines(client, "/anthropic/v1/messages", body, ANTHROPIC_HEADERS)))
    starts = [json.loads(d) for n, d in events if n == "content_block_start"]
    assert [s["content_block"]["type"] for s in starts] == ["text", "tool_use"]
    assert starts[1]["index"] == 1 and starts[1]["content_block"]["name"] == "get_weather"
    fragments = [json.loads(d)["delta"] for n, d in events if n == "content_block_delta"]
    partial = [f["partial_json"] for f in fragments if f["type"] == "input_json_delta"]
    assert len(partial) > 2 and json.loads("".join(partial)) == {"city": "Oslo"}
    assert json.loads(events[-2][1])["delta"]["stop_reason"] == "tool_use"


def test_it_answers_gemini_plain_and_sse(client: httpx.Client) -> None:
    base = "/gemini/v1beta/models/gemini-2.5-flash"
    body = gemini_body("hi", systemInstruction={"parts": [{"text": "Be brief"}]})
    answer = client.post(f"{base}:generateContent", json=body, headers=GEMINI_HEADERS).json()
    assert answer["candidates"][0]["content"]["parts"] == [{"text": "This is a fake answer from gemini to: hi"}]
    assert answer["usageMetadata"] == {"promptTokenCount": 3, "candidatesTokenCount": 9, "totalTokenCount": 12}
    assert answer["modelVersion"] == "gemini-2.5-flash"
    lines = stream_lines(client, f"{base}:streamGenerateContent?alt=sse", body, GEMINI_HEADERS)
    chunks = [json.loads(data) for _, data in sse_events(iter(lines))]
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == answer["candidates"][0]["content"]["parts"][0]["text"]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 9


def test_it_answers_gemini_with_a_function_call(client: httpx.Client) -> None:
    tools = [{"functionDeclarations": [{"name": "get_weather"}]}]
    url = "/gemini/v1beta/models/g:generateContent"
    answer = client.post(url, json=gemini_body("fake:tool", tools=tools), headers=GEMINI_HEADERS).json()
    assert answer["candidates"][0]["content"]["parts"] == [{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}]
    assert answer["candidates"][0]["finishReason"] == "STOP"


@pytest.mark.parametrize("key", ["bad-key", None])
def test_it_refuses_bad_or_missing_keys(client: httpx.Client, key: str | None) -> None:
    def headers(name: str, value: str) -> dict[str, str]:
        return {name: value} if key else {}

    openai = client.post("/openai/v1/chat/completions", json=openai_body("hi"), headers=headers("Authorization", f"Bearer {key}"))
    assert openai.status_code == 401 and set(openai.json()["error"]) == {"message", "type", "param", "code"}
    anthropic = client.post("/anthropic/v1/messages", json=anthropic_body("hi"),
                            headers={**headers("x-api-key", str(key)), "anthropic-version": "2023-06-01"})
    assert anthropic.status_code == 401 and anthropic.json()["error"]["type"] == "authentication_error"
    gemini = client.post("/gemini/v1beta/models/g:generateContent", json=gemini_body("hi"), headers=headers("x-goog-api-key", str(key)))
    assert gemini.status_code == 400 and gemini.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"


def test_it_injects_statuses_in_each_provider_format(client: httpx.Client) -> None:
    text = "hi fake:status=529 fake:retry_after=2"
    anthropic = client.post("/anthropic/v1/messages", json=anthropic_body(text), headers=ANTHROPIC_HEADERS)
    assert anthropic.status_code == 529 and anthropic.headers["retry-after"] == "2"
    assert anthropic.json()["error"]["type"] == "overloaded_error"
    gemini = client.post("/gemini/v1beta/models/g:generateContent", json=gemini_body("hi fake:status=503"), headers=GEMINI_HEADERS)
    assert gemini.status_code == 503 and gemini.json()["error"]["status"] == "UNAVAILABLE"
    openai = post_openai(client, "hi fake:status=429")
    assert openai.status_code == 429 and openai.json()["error"]["code"] == "rate_limit_exceeded"


def test_it_fails_flaky_requests_then_succeeds_and_counts_tags(client: httpx.Client, fake: FakeUpstream) -> None:
    name = tag()
    statuses = [post_openai(client, f"hi fake:flaky=2:{name} fake:flaky_status=502").status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    seen = fake.requests()
    assert seen["tags"][name] == 3 and seen["tags_by_provider"]["openai"][name] == 3
    assert seen["last"]["openai"]["headers"]["Authorization"] == "Bearer test-key"
    assert seen["last"]["openai"]["body"]["messages"][0]["content"].startswith("hi fake:flaky")


def test_it_resets_counters(client: httpx.Client, fake: FakeUpstream) -> None:
    name = tag()
    post_openai(client, f"fake:tag={name}")
    fake.reset()
    assert fake.tag_count(name) == 0 and fake.requests()["total"] == 0


def test_it_resets_the_connection_without_answering(client: httpx.Client) -> None:
    with pytest.raises(httpx.TransportError):
        post_openai(client, "hi fake:reset")


def test_it_cuts_a_stream_after_k_events(client: httpx.Client) -> None:
    received = []
    with pytest.raises(httpx.TransportError):
        with client.stream("POST", "/openai/v1/chat/completions", json=openai_body("hi fake:cut=3", stream=True),
                           headers=OPENAI_HEADERS) as response:
            for line in response.iter_lines():
                received.append(line)
    assert len([line for line in received if line.startswith("data: ")]) == 3


@pytest.mark.parametrize(
    ("url", "body", "headers", "is_error"),
    [
        ("/openai/v1/chat/completions", openai_body("fake:stream_error", stream=True), OPENAI_HEADERS,
         lambda name, data: "error" in json.loads(data)),
        ("/anthropic/v1/messages", anthropic_body("fake:stream_error", stream=True), ANTHROPIC_HEADERS,
         lambda name, data: name == "error" and json.loads(data)["error"]["type"] == "overloaded_error"),
        ("/gemini/v1beta/models/g:streamGenerateContent?alt=sse", gemini_body("fake:stream_error"), GEMINI_HEADERS,
         lambda name, data: json.loads(data)["error"]["status"] == "UNAVAILABLE"),
    ],
)
def test_it_sends_an_in_stream_error(client: httpx.Client, url: str, body: dict[str, Any],
                                     headers: dict[str, str], is_error: Any) -> None:
    events = sse_events(iter(stream_lines(client, url, body, headers)))
    assert len(events) == 4 and is_error(*events[-1])


def test_it_sends_bad_json(client: httpx.Client) -> None:
    response = post_openai(client, "fake:badjson")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    events = sse_events(iter(stream_lines(client, "/openai/v1/chat/completions", openai_body("fake:badjson", stream=True), OPENAI_HEADERS)))
    json.loads(events[0][1])
    with pytest.raises(ValueError):
        json.loads(events[1][1])


def test_it_delays_and_hangs_until_the_client_gives_up(client: httpx.Client, fake: FakeUpstream) -> None:
    started = time.monotonic()
    assert post_openai(client, "fake:delay=0.2").status_code == 200
    assert time.monotonic() - started >= 0.2
    name = tag()
    with pytest.raises(httpx.ReadTimeout):
        client.post("/openai/v1/chat/completions", json=openai_body(f"fake:hang fake:tag={name}"),
                    headers=OPENAI_HEADERS, timeout=0.3)
    assert wait_for(lambda: fake.requests()["tag_disconnects"].get(name) == 1)


def test_it_counts_a_client_leaving_a_slow_stream(client: httpx.Client, fake: FakeUpstream) -> None:
    name = tag()
    body = anthropic_body(f"fake:slow_stream=0.2 fake:tag={name}", stream=True)
    with client.stream("POST", "/anthropic/v1/messages", json=body, headers=ANTHROPIC_HEADERS) as response:
        next(response.iter_lines())
    assert wait_for(lambda: fake.requests()["tag_disconnects"].get(name) == 1)
    assert fake.requests()["disconnects"]["anthropic"] >= 1


def test_it_answers_with_n_words(client: httpx.Client) -> None:
    response = post_openai(client, "fake:words=300").json()
    assert len(response["choices"][0]["message"]["content"].split()) == 300
    assert response["usage"]["completion_tokens"] == 300


def test_it_refuses_unknown_directives_and_invalid_requests(client: httpx.Client) -> None:
    assert post_openai(client, "fake:stauts=503").status_code == 400
    no_max_tokens = {"model": "c", "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/anthropic/v1/messages", json=no_max_tokens, headers=ANTHROPIC_HEADERS)
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


def test_it_lists_openai_models(client: httpx.Client) -> None:
    assert client.get("/openai/v1/models").json()["object"] == "list"


def test_it_works_with_the_official_openai_sdk(fake: FakeUpstream) -> None:
    openai = pytest.importorskip("openai")
    sdk = openai.OpenAI(base_url=fake.env()["OPENAI_BASE_URL"], api_key="sdk-key", max_retries=2)
    name = tag()
    # The SDK retries the two 503s (retry-after is tiny) and gets the third answer.
    answer = sdk.chat.completions.create(model="m", messages=[
        {"role": "user", "content": f"hi fake:flaky=2:{name} fake:retry_after=0.01"}])
    assert answer.choices[0].message.content.startswith("This is a fake answer from openai")
    assert fake.tag_count(name) == 3
    stream = sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                         stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[-1].usage.completion_tokens == 9


def test_it_adds_a_fixed_latency_and_exports_env() -> None:
    with FakeUpstream(latency_ms=150) as slow:
        assert slow.env()["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{slow.port}/anthropic"
        started = time.monotonic()
        httpx.post(f"{slow.env()['OPENAI_BASE_URL']}/chat/completions", json=openai_body("hi"),
                   headers=OPENAI_HEADERS, trust_env=False)
        assert time.monotonic() - started >= 0.15


def wait_for(condition: Any, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False

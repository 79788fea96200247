"""Tests of the fake upstream itself, over real HTTP against one subprocess for the module.

The module starts its own fake (not the suite's session fixture) because one test resets
the counters.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from .runner import FakeUpstream

HEADERS = {
    "openai": {"Authorization": "Bearer test-key"},
    "anthropic": {"x-api-key": "test-key", "anthropic-version": "2023-06-01"},
    "gemini": {"x-goog-api-key": "test-key"},
}
OPENAI_URL = "/openai/v1/chat/completions"
ANTHROPIC_URL = "/anthropic/v1/messages"
GEMINI_URL = "/gemini/v1beta/models/gemini-2.5-flash"
TOOLS = {
    "openai": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
    "anthropic": [{"name": "get_weather", "input_schema": {"type": "object"}}],
    "gemini": [{"functionDeclarations": [{"name": "get_weather"}]}],
}
Event = tuple[str | None, str]  # (SSE event name, data)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def client(fake: FakeUpstream) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, timeout=5, trust_env=False) as http:
        yield http


def new_tag() -> str:
    return uuid.uuid4().hex[:8]


def request_for(provider: str, text: str, stream: bool = False, **extra: Any) -> tuple[str, dict[str, Any]]:
    """URL and body of a one-message request in the provider's own format."""
    if provider == "gemini":
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{GEMINI_URL}:{method}", {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}
    body = {"model": "model-x", "messages": [{"role": "user", "content": text}], "stream": stream, **extra}
    if provider == "anthropic":
        return ANTHROPIC_URL, {"max_tokens": 50, **body}
    return OPENAI_URL, body


def post(client: httpx.Client, provider: str, text: str, **extra: Any) -> httpx.Response:
    url, body = request_for(provider, text, **extra)
    return client.post(url, json=body, headers=HEADERS[provider])


def stream(client: httpx.Client, provider: str, text: str, **extra: Any) -> list[Event]:
    url, body = request_for(provider, text, stream=True, **extra)
    with client.stream("POST", url, json=body, headers=HEADERS[provider]) as response:
        assert response.status_code == 200
        return sse_events(response.iter_lines())


def sse_events(lines: Iterator[str]) -> list[Event]:
    events, name = [], None
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            events.append((name, line[6:]))
            name = None
    return events


def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_it_answers_openai_deterministically(client: httpx.Client) -> None:
    messages = [
        {"role": "system", "content": "Be brief"},
        {"role": "user", "content": [{"type": "text", "text": "hello there"}]},
    ]
    answer = post(client, "openai", "", messages=messages).json()
    assert answer["choices"][0]["message"]["content"] == "This is a fake answer from openai to: hello there"
    assert answer["choices"][0]["finish_reason"] == "stop"
    usage = answer["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (4, 10, 14)


def test_it_streams_openai_word_by_word_with_usage_last(client: httpx.Client) -> None:
    events = stream(client, "openai", "hi", stream_options={"include_usage": True})
    assert events[-1][1] == "[DONE]"
    chunks = [json.loads(data) for _, data in events[:-1]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 9
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    words = [chunk["choices"][0]["delta"].get("content") for chunk in chunks[1:-2]]
    assert len(words) == 9 and "".join(words) == "This is a fake answer from openai to: hi"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


def test_it_streams_an_openai_tool_call_in_fragments(client: httpx.Client) -> None:
    chunks = [json.loads(data) for _, data in stream(client, "openai", "weather? fake:tool", tools=TOOLS["openai"])[:-1]]
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    calls = [delta["tool_calls"][0] for delta in deltas if "tool_calls" in delta]
    assert calls[0]["id"] and calls[0]["function"]["name"] == "get_weather"
    assert len(calls) > 2
    assert json.loads("".join(call["function"]["arguments"] for call in calls)) == {"city": "Oslo"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_it_answers_in_text_after_a_tool_result(client: httpx.Client) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "weather? fake:tool"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "4C"},
    ]
    answer = post(client, "openai", "", messages=messages, tools=TOOLS["openai"]).json()
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"]["prompt_tokens"] == 3


def test_it_answers_anthropic_and_streams_its_events(client: httpx.Client) -> None:
    answer = post(client, "anthropic", "hi", system="Be brief").json()
    assert answer["content"] == [{"type": "text", "text": "This is a fake answer from anthropic to: hi"}]
    assert (answer["usage"]["input_tokens"], answer["usage"]["output_tokens"]) == (3, 9)
    events = stream(client, "anthropic", "hi")
    names = [name for name, _ in events]
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-4:] == ["content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    texts = [json.loads(data)["delta"]["text"] for name, data in events if name == "content_block_delta"]
    assert "".join(texts) == answer["content"][0]["text"]
    assert json.loads(events[-2][1])["usage"]["output_tokens"] == 9


def test_it_streams_an_anthropic_tool_use_block_after_text(client: httpx.Client) -> None:
    events = stream(client, "anthropic", "weather? fake:tool=text", tools=TOOLS["anthropic"])
    starts = [json.loads(data) for name, data in events if name == "content_block_start"]
    assert [start["content_block"]["type"] for start in starts] == ["text", "tool_use"]
    assert starts[1]["index"] == 1 and starts[1]["content_block"]["name"] == "get_weather"
    deltas = [json.loads(data)["delta"] for name, data in events if name == "content_block_delta"]
    partial = [delta["partial_json"] for delta in deltas if delta["type"] == "input_json_delta"]
    assert len(partial) > 2 and json.loads("".join(partial)) == {"city": "Oslo"}
    assert json.loads(events[-2][1])["delta"]["stop_reason"] == "tool_use"


def test_it_answers_gemini_plain_and_sse(client: httpx.Client) -> None:
    system = {"systemInstruction": {"parts": [{"text": "Be brief"}]}}
    answer = post(client, "gemini", "hi", **system).json()
    text = "This is a fake answer from gemini to: hi"
    assert answer["candidates"][0]["content"]["parts"] == [{"text": text}]
    assert answer["usageMetadata"] == {"promptTokenCount": 3, "candidatesTokenCount": 9, "totalTokenCount": 12}
    assert answer["modelVersion"] == "gemini-2.5-flash"
    chunks = [json.loads(data) for _, data in stream(client, "gemini", "hi", **system)]
    assert "".join(chunk["candidates"][0]["content"]["parts"][0]["text"] for chunk in chunks) == text
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] == 9


def test_it_answers_gemini_with_a_function_call(client: httpx.Client) -> None:
    candidate = post(client, "gemini", "fake:tool", tools=TOOLS["gemini"]).json()["candidates"][0]
    assert candidate["content"]["parts"] == [{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}]
    assert candidate["finishReason"] == "STOP"


@pytest.mark.parametrize("key", ["bad-key", None])
def test_it_refuses_bad_or_missing_keys(client: httpx.Client, key: str | None) -> None:
    def without_key(provider: str, header: str) -> dict[str, str]:
        headers = {k: v for k, v in HEADERS[provider].items() if k != header}
        return {**headers, header: f"Bearer {key}" if provider == "openai" else key} if key else headers

    url, body = request_for("openai", "hi")
    openai = client.post(url, json=body, headers=without_key("openai", "Authorization"))
    assert openai.status_code == 401 and set(openai.json()["error"]) == {"message", "type", "param", "code"}
    url, body = request_for("anthropic", "hi")
    anthropic = client.post(url, json=body, headers=without_key("anthropic", "x-api-key"))
    assert anthropic.status_code == 401 and anthropic.json()["error"]["type"] == "authentication_error"
    url, body = request_for("gemini", "hi")
    gemini = client.post(url, json=body, headers=without_key("gemini", "x-goog-api-key"))
    assert gemini.status_code == 400 and gemini.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"


def test_it_injects_statuses_in_each_provider_format(client: httpx.Client) -> None:
    anthropic = post(client, "anthropic", "hi fake:status=529 fake:retry_after=2")
    assert anthropic.status_code == 529 and anthropic.headers["retry-after"] == "2"
    assert anthropic.json()["error"]["type"] == "overloaded_error"
    gemini = post(client, "gemini", "hi fake:status=503")
    assert gemini.status_code == 503 and gemini.json()["error"]["status"] == "UNAVAILABLE"
    openai = post(client, "openai", "hi fake:status=429")
    assert openai.status_code == 429 and openai.json()["error"]["code"] == "rate_limit_exceeded"


def test_it_fails_flaky_requests_then_succeeds(client: httpx.Client, fake: FakeUpstream) -> None:
    tag = new_tag()
    text = f"hi fake:flaky=2:{tag} fake:flaky_status=502"
    assert [post(client, "openai", text).status_code for _ in range(3)] == [502, 502, 200]
    seen = fake.requests()
    assert seen["tags"][tag] == 3 and seen["tags_by_provider"]["openai"][tag] == 3
    assert seen["last"]["openai"]["headers"]["Authorization"] == "Bearer test-key"
    assert seen["last"]["openai"]["body"]["messages"][0]["content"] == text


def test_it_resets_counters(client: httpx.Client, fake: FakeUpstream) -> None:
    tag = new_tag()
    post(client, "openai", f"fake:tag={tag}")
    fake.reset()
    assert fake.tag_count(tag) == 0 and fake.requests()["total"] == 0


def test_it_resets_the_connection_without_answering(client: httpx.Client) -> None:
    with pytest.raises(httpx.TransportError):
        post(client, "openai", "hi fake:reset")


def test_it_cuts_a_stream_after_k_events(client: httpx.Client) -> None:
    received = []
    url, body = request_for("openai", "hi fake:cut=3", stream=True)
    with pytest.raises(httpx.TransportError):
        with client.stream("POST", url, json=body, headers=HEADERS["openai"]) as response:
            received.extend(response.iter_lines())
    assert len([line for line in received if line.startswith("data: ")]) == 3


def _is_openai_error(name: str | None, data: str) -> bool:
    return "error" in json.loads(data)


def _is_anthropic_error(name: str | None, data: str) -> bool:
    return name == "error" and json.loads(data)["error"]["type"] == "overloaded_error"


def _is_gemini_error(name: str | None, data: str) -> bool:
    return json.loads(data)["error"]["status"] == "UNAVAILABLE"


@pytest.mark.parametrize(
    ("provider", "is_error"),
    [("openai", _is_openai_error), ("anthropic", _is_anthropic_error), ("gemini", _is_gemini_error)],
)
def test_it_sends_an_in_stream_error(client: httpx.Client, provider: str, is_error: Callable[..., bool]) -> None:
    events = stream(client, provider, "fake:stream_error")
    assert len(events) == 4 and is_error(*events[-1])


def test_it_sends_bad_json(client: httpx.Client) -> None:
    response = post(client, "openai", "fake:badjson")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    events = stream(client, "openai", "fake:badjson")
    json.loads(events[0][1])
    with pytest.raises(ValueError):
        json.loads(events[1][1])


def test_it_delays_and_hangs_until_the_client_gives_up(client: httpx.Client, fake: FakeUpstream) -> None:
    started = time.monotonic()
    assert post(client, "openai", "fake:delay=0.2").status_code == 200
    assert time.monotonic() - started >= 0.2
    tag = new_tag()
    url, body = request_for("gemini", f"fake:hang fake:tag={tag}")
    with pytest.raises(httpx.ReadTimeout):
        client.post(url, json=body, headers=HEADERS["gemini"], timeout=0.3)
    assert wait_for(lambda: fake.requests()["tag_disconnects"].get(tag) == 1)


def test_it_counts_a_client_leaving_a_slow_stream(client: httpx.Client, fake: FakeUpstream) -> None:
    tag = new_tag()
    url, body = request_for("anthropic", f"fake:slow_stream=0.2 fake:tag={tag}", stream=True)
    with client.stream("POST", url, json=body, headers=HEADERS["anthropic"]) as response:
        next(response.iter_lines())
    assert wait_for(lambda: fake.requests()["tag_disconnects"].get(tag) == 1)
    assert fake.requests()["disconnects"]["anthropic"] >= 1


def test_it_answers_with_n_words(client: httpx.Client) -> None:
    answer = post(client, "openai", "fake:words=300").json()
    assert len(answer["choices"][0]["message"]["content"].split()) == 300
    assert answer["usage"]["completion_tokens"] == 300


def test_it_refuses_unknown_directives_and_invalid_requests(client: httpx.Client) -> None:
    assert post(client, "openai", "fake:stauts=503").status_code == 400
    url, body = request_for("anthropic", "hi")
    del body["max_tokens"]
    response = client.post(url, json=body, headers=HEADERS["anthropic"])
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


def test_it_lists_openai_models(client: httpx.Client) -> None:
    assert client.get("/openai/v1/models").json()["object"] == "list"


def test_it_works_with_the_official_openai_sdk(fake: FakeUpstream) -> None:
    openai = pytest.importorskip("openai")
    sdk = openai.OpenAI(base_url=fake.env()["OPENAI_BASE_URL"], api_key="sdk-key", max_retries=2)
    tag = new_tag()
    # The SDK retries the two 503s (retry-after is tiny) and gets the third answer.
    text = f"hi fake:flaky=2:{tag} fake:retry_after=0.01"
    answer = sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])
    assert answer.choices[0].message.content.startswith("This is a fake answer from openai")
    assert fake.tag_count(tag) == 3
    chunks = list(sdk.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True, stream_options={"include_usage": True}
    ))
    assert chunks[-1].usage.completion_tokens == 9


def test_it_adds_a_fixed_latency_and_exports_env() -> None:
    with FakeUpstream(latency_ms=150) as slow:
        env = slow.env()
        assert env["ANTHROPIC_BASE_URL"] == f"http://127.0.0.1:{slow.port}/anthropic"
        started = time.monotonic()
        url, body = request_for("openai", "hi")
        httpx.post(f"{env['OPENAI_BASE_URL']}/chat/completions", json=body, headers=HEADERS["openai"], trust_env=False)
        assert time.monotonic() - started >= 0.15


def test_it_takes_a_gemini_key_param_and_answers_a_json_array_without_sse(client: httpx.Client) -> None:
    url, body = request_for("gemini", "hi")
    stream_url = url.replace(":generateContent", ":streamGenerateContent") + "?key=test-key"
    chunks = client.post(stream_url, json=body).json()
    assert isinstance(chunks, list) and chunks[-1]["candidates"][0]["finishReason"] == "STOP"


STRICT_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["age", "name"],
                 "properties": {"age": {"type": "integer"}, "name": {"type": "string", "format": "email"}}}


@pytest.mark.parametrize("schema, complaint", [
    ({**STRICT_SCHEMA, "properties": {"age": {"type": "integer", "minimum": 0}}}, "property 'minimum' is not supported"),
    ({**STRICT_SCHEMA, "properties": {"n": {"type": "string", "maxLength": 9}}}, "property 'maxLength' is not supported"),
    ({**STRICT_SCHEMA, "properties": {"l": {"type": "array", "minItems": 2}}}, "'minItems' values other than 0 or 1"),
    ({"type": "object", "properties": {}}, "'additionalProperties' must be explicitly set to false"),
])
def test_it_refuses_anthropic_structured_schemas_the_api_refuses(client: httpx.Client, schema, complaint) -> None:
    as_format = post(client, "anthropic", "hi", model="claude-sonnet-4-5",
                     output_config={"format": {"type": "json_schema", "schema": schema}})
    as_tool = post(client, "anthropic", "hi", model="claude-sonnet-4-5",
                   tools=[{"name": "f", "input_schema": schema, "strict": True}])
    for response in (as_format, as_tool):
        assert response.status_code == 400
        error = response.json()
        assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
        assert complaint in error["error"]["message"]
    # Without strict, a tool takes any JSON Schema.
    assert post(client, "anthropic", "hi", model="claude-sonnet-4-5",
                tools=[{"name": "f", "input_schema": schema}]).status_code == 200


def test_it_refuses_structured_outputs_on_older_claude_models(client: httpx.Client) -> None:
    response = post(client, "anthropic", "hi", model="claude-sonnet-4-20250514",
                    output_config={"format": {"type": "json_schema", "schema": STRICT_SCHEMA}})
    assert response.status_code == 400 and "does not support structured outputs" in response.json()["error"]["message"]


def test_it_answers_anthropic_structured_outputs_with_json_from_the_schema(client: httpx.Client) -> None:
    fields = {"model": "claude-sonnet-4-5", "output_config": {"format": {"type": "json_schema", "schema": STRICT_SCHEMA}}}
    answer = post(client, "anthropic", "hi", **fields).json()
    assert json.loads(answer["content"][0]["text"]) == {"age": 1, "name": "fake@example.com"}
    deltas = [json.loads(data)["delta"] for name, data in stream(client, "anthropic", "hi", **fields)
              if name == "content_block_delta"]
    assert json.loads("".join(delta["text"] for delta in deltas)) == {"age": 1, "name": "fake@example.com"}


def test_it_calls_a_forced_anthropic_tool_with_input_from_its_schema(client: httpx.Client) -> None:
    fields = {"tools": [{"name": "answer", "input_schema": STRICT_SCHEMA}], "tool_choice": {"type": "tool", "name": "answer"}}
    block = post(client, "anthropic", "hi", **fields).json()["content"][0]
    assert (block["type"], block["name"], block["input"]) == ("tool_use", "answer", {"age": 1, "name": "fake@example.com"})
    deltas = [json.loads(data)["delta"] for name, data in stream(client, "anthropic", "hi", **fields)
              if name == "content_block_delta"]
    assert json.loads("".join(delta["partial_json"] for delta in deltas)) == block["input"]


def test_it_calls_a_gemini_function_twice_when_asked(client: httpx.Client) -> None:
    parts = post(client, "gemini", "fake:tool=twice", tools=TOOLS["gemini"]).json()["candidates"][0]["content"]["parts"]
    assert [part["functionCall"]["name"] for part in parts] == ["get_weather", "get_weather"]

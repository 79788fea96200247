"""/v1/messages streams that are not plain text: tool calls, failures in the middle,
fallbacks from a Claude model to a translated one."""

import json
import uuid

import anthropic
import httpx
import pytest

from tests.completions.conftest import MODELS_BY_PROVIDER
from tests.completions.test_messages_sdk import WEATHER_TOOL, headers
from tests.completions.test_usage_records import wait_for_records

pytestmark = pytest.mark.django_db(transaction=True)

PROVIDERS = list(MODELS_BY_PROVIDER.items())


def events_of(gateway, key: str, body: dict) -> tuple[httpx.Response, list[tuple[str, dict]]]:
    with httpx.stream("POST", f"{gateway.url}/v1/messages", json={**body, "stream": True}, headers=headers(key),
                      timeout=30) as response:
        lines = list(response.iter_lines())
    names = [line[7:] for line in lines if line.startswith("event: ")]
    datas = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    return response, list(zip(names, datas, strict=True))


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_streams_text_then_a_tool_call_as_two_blocks(gateway, user_key, provider, model):
    body = {"model": model, "max_tokens": 50, "tools": [WEATHER_TOOL],
            "messages": [{"role": "user", "content": f"Weather? fake:tool=text {provider}"}]}
    _, events = events_of(gateway, user_key, body)
    starts = [data["content_block"] for name, data in events if name == "content_block_start"]
    assert [block["type"] for block in starts] == ["text", "tool_use"]
    assert starts[1]["name"] == "get_weather" and starts[1]["input"] == {}
    partial = "".join(data["delta"]["partial_json"] for name, data in events
                      if name == "content_block_delta" and data["index"] == 1)
    assert json.loads(partial) == {"city": "Oslo"}
    text = "".join(data["delta"].get("text", "") for name, data in events if name == "content_block_delta" and data["index"] == 0)
    assert text == "Let me check."
    stops = [data["index"] for name, data in events if name == "content_block_stop"]
    assert stops == [0, 1]
    [delta] = [data for name, data in events if name == "message_delta"]
    assert delta["delta"]["stop_reason"] == "tool_use" and delta["usage"]["output_tokens"] == 8
    assert events[-1][0] == "message_stop"


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
def test_it_ends_a_failed_stream_with_an_error_event(gateway, user_key, provider, model):
    # slow_stream: the first events reach the client before the error (sent in one read, the
    # error would come before the first byte, and the gateway would rightly fall back).
    text = f"fail me fake:stream_error=4 fake:slow_stream=0.05 {provider}"
    body = {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": text}]}
    response, events = events_of(gateway, user_key, body)
    assert response.status_code == 200
    name, data = events[-1]
    assert name == "error" and data["type"] == "error" and data["error"]["type"] in ("api_error", "overloaded_error")
    assert "message_stop" not in [name for name, _ in events]
    [record] = wait_for_records(1, request_id=response.headers["request-id"])
    assert record.status_code == 502 and record.error_code == "provider_error"


@pytest.mark.parametrize("stream", [False, True])
def test_it_falls_back_from_a_claude_model_to_a_translated_one(gateway, user_key, stream):
    # claude-sonnet-4-20250514 falls back to gpt-4o (config/gateway.yaml). Its first attempt is
    # refused as if the gateway's Anthropic key were bad: not retried, one breaker failure.
    tag = uuid.uuid4().hex[:8]
    client = anthropic.Anthropic(base_url=gateway.url, api_key=user_key, max_retries=0, timeout=30)
    fields = {"model": "claude-sonnet-4-20250514", "max_tokens": 50,
              "messages": [{"role": "user", "content": f"hi fake:flaky=1:{tag} fake:flaky_status=401"}]}
    if stream:
        with client.messages.stream(**fields) as events:
            message = events.get_final_message()
    else:
        raw = client.messages.with_raw_response.create(**fields)
        message = raw.parse()
        assert raw.headers["X-Gateway-Fallback-Model"] == "gpt-4o"
    assert message.model == "gpt-4o" and message.content[0].text.startswith("This is a fake answer from openai")
    assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0

"""Faults injected by the fake upstream, seen as a client sees them through the gateway."""

import json
import time
import uuid

import httpx
import pytest
import yaml

from tests.gateway_server import GatewayServer, free_port

pytestmark = pytest.mark.django_db(transaction=True)

CLOSED_PORT = free_port()  # nothing listens here: connection refused


def reliability_config(fake_url: str) -> dict:
    fast = {
        "timeouts": {"connect": 0.5, "read": 1.0, "stream_idle": 1.0},
        "retries": {"max_attempts": 3, "backoff_base": 0.01, "backoff_max": 0.05, "max_retry_after": 0.5},
        # Faults injected on purpose must not trip the shared providers' breakers.
        "circuit_breaker": {"failure_threshold": 1000, "cooldown": 1.5},
    }
    return {
        "defaults": fast,
        "providers": {
            "openai": {"protocol": "openai", "base_url": f"{fake_url}/openai/v1", "api_key_env": "OPENAI_API_KEY"},
            "anthropic": {"protocol": "anthropic", "base_url": f"{fake_url}/anthropic", "api_key_env": "ANTHROPIC_API_KEY"},
            "google": {"protocol": "gemini", "base_url": f"{fake_url}/gemini", "api_key_env": "GEMINI_API_KEY"},
            "broken": {"protocol": "openai", "base_url": f"http://127.0.0.1:{CLOSED_PORT}/v1", "api_key_env": "OPENAI_API_KEY",
                       "circuit_breaker": {"failure_threshold": 3, "cooldown": 1.5}},
            "refusing": {"protocol": "openai", "base_url": f"{fake_url}/openai/v1", "api_key_env": "REFUSED_KEY"},
            # Any OpenAI-compatible server (vLLM, Ollama) is one more provider by base URL.
            "local": {"protocol": "openai", "base_url": f"{fake_url}/openai/v1", "api_key_env": "LOCAL_LLM_KEY"},
        },
        "models": {
            "gpt-4o": {"provider": "openai", "price": {"input": 2.5, "output": 10}},
            "claude-sonnet-4-20250514": {"provider": "anthropic", "price": {"input": 3, "output": 15}},
            "gemini-2.5-flash": {"provider": "google", "price": {"input": 0.3, "output": 2.5}},
            "broken-primary": {"provider": "broken", "upstream_model": "gpt-4o", "fallbacks": ["claude-sonnet-4-20250514"]},
            "refused-primary": {"provider": "refusing", "upstream_model": "gpt-4o", "fallbacks": ["gemini-2.5-flash"]},
            "refused-only": {"provider": "refusing", "upstream_model": "gpt-4o"},
            "llama-3.1-8b": {"provider": "local", "upstream_model": "meta-llama/Llama-3.1-8B-Instruct"},
        },
        "rate_limits": {"requests_per_minute": 100000},
    }


@pytest.fixture(scope="module")
def reliable_gateway(fake_upstream, tmp_path_factory, django_db_blocker):
    config_path = tmp_path_factory.mktemp("config") / "gateway.yaml"
    config_path.write_text(yaml.safe_dump(reliability_config(fake_upstream.url)))
    env = {**fake_upstream.env(), "GATEWAY_CONFIG": str(config_path), "REFUSED_KEY": "bad-key", "LOCAL_LLM_KEY": "local"}
    with django_db_blocker.unblock(), GatewayServer(env) as server:
        yield server


@pytest.fixture
def call(reliable_gateway, user_key):
    def send(content: str, *, model: str = "gpt-4o", stream: bool = False) -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}
        return httpx.post(f"{reliable_gateway.url}/v1/chat/completions", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {user_key}", "Cache-Control": "no-store"})
    return send


def tag() -> str:
    return uuid.uuid4().hex[:12]


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code and body["request_id"] == response.headers["X-Request-ID"]
    return body


def sse_events(response: httpx.Response) -> list:
    return [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]


def test_it_retries_a_flaky_upstream_until_it_answers(call, fake_upstream):
    name = tag()
    response = call(f"hello fake:flaky=2:{name}")
    assert response.status_code == 200
    assert fake_upstream.tag_count(name) == 3


def test_it_gives_up_after_the_configured_attempts_with_a_502(call, fake_upstream):
    name = tag()
    body = assert_error(call(f"hello fake:status=503 fake:tag={name}"), 502, "provider_error")
    assert "503" in body["error"]["message"]
    assert fake_upstream.tag_count(name) == 3


@pytest.mark.parametrize("status", [500, 502, 504, 529, 429])
def test_it_retries_every_transient_status(call, fake_upstream, status):
    name = tag()
    assert call(f"hi fake:flaky=1:{name} fake:flaky_status={status}").status_code == 200
    assert fake_upstream.tag_count(name) == 2


def test_it_does_not_wait_for_a_retry_after_longer_than_configured(call, fake_upstream):
    name = tag()
    assert_error(call(f"hi fake:status=429 fake:retry_after=30 fake:tag={name}"), 502, "provider_error")
    assert fake_upstream.tag_count(name) == 1  # gave up at once instead of sleeping 30 s


def test_it_passes_client_mistakes_back_as_400_without_retrying(call, fake_upstream):
    name = tag()
    body = assert_error(call(f"hi fake:status=400 fake:tag={name}"), 400, "invalid_request")
    assert "openai rejected the request" in body["error"]["message"]
    assert fake_upstream.tag_count(name) == 1


def test_it_never_blames_the_client_for_the_gateways_provider_key(call):
    body = assert_error(call("hi", model="refused-only"), 502, "provider_error")
    assert "gateway's API key" in body["error"]["message"]


def test_it_maps_a_slow_upstream_to_504(call):
    assert_error(call("hi fake:delay=3"), 504, "provider_timeout")


def test_it_maps_a_hung_upstream_stream_to_504(call):
    assert_error(call("hi fake:hang", stream=True), 504, "provider_timeout")


def test_it_maps_connection_resets_and_garbage_to_502(call):
    assert_error(call("hi fake:reset"), 502, "provider_error")
    assert_error(call("hi fake:badjson"), 502, "provider_error")


# Gemini's first event already carries the answer's first words, so there the same fault
# comes after the first byte: test_it_ends_a_cut_stream_with_an_error_event covers that.
@pytest.mark.parametrize("model", ["gpt-4o", "claude-sonnet-4-20250514"])
def test_it_answers_a_stream_that_breaks_before_saying_anything_with_an_http_error(call, model):
    """Nothing has reached the client yet (a role chunk or message_start says nothing):
    like the non-streamed twin, the failure is retried or falls back, and ends as a 502."""
    assert_error(call("hi fake:badjson", model=model, stream=True), 502, "provider_error")


def test_it_answers_an_error_status_before_a_stream_starts(call):
    response = call("hi fake:status=500", stream=True)
    assert_error(response, 502, "provider_error")


@pytest.mark.parametrize("model", ["gpt-4o", "claude-sonnet-4-20250514", "gemini-2.5-flash"])
def test_it_ends_a_cut_stream_with_an_error_event(call, model):
    # Events spaced out, so the failure comes after the first bytes reached the client (a
    # failure inside the very first network read is retried, and ends as an HTTP error).
    response = call("tell me a long story fake:words=40 fake:cut=4 fake:slow_stream=0.05", model=model, stream=True)
    assert response.status_code == 200
    events = sse_events(response)
    assert events[-1] != "[DONE]"
    assert json.loads(events[-1])["error"]["code"] == "provider_error"


@pytest.mark.parametrize("model", ["gpt-4o", "claude-sonnet-4-20250514", "gemini-2.5-flash"])
def test_it_relays_an_in_stream_upstream_error_as_an_error_event(call, model):
    response = call("hi fake:words=30 fake:stream_error=4 fake:slow_stream=0.05", model=model, stream=True)
    events = sse_events(response)
    assert json.loads(events[-1])["error"]["code"] == "provider_error"


def test_it_falls_back_to_another_provider(call):
    response = call("hello", model="refused-primary")
    assert response.status_code == 200
    assert "fake answer from gemini" in response.json()["choices"][0]["message"]["content"]
    assert response.headers["X-Gateway-Fallback-Model"] == "gemini-2.5-flash"


def test_it_opens_the_breaker_skips_the_provider_and_probes_again(call, reliable_gateway, admin_key):
    health = lambda: httpx.get(f"{reliable_gateway.url}/health", headers={"X-API-Key": admin_key}).json()  # noqa: E731
    first = call("hello", model="broken-primary")  # 3 refused attempts open the breaker
    assert first.status_code == 200 and "anthropic" in first.json()["choices"][0]["message"]["content"]
    assert health()["services"]["providers"]["broken"] == "unavailable"
    assert health()["status"] == "degraded"
    assert call("hello again", model="broken-primary").status_code == 200  # straight to the fallback
    time.sleep(1.6)  # the cool-down: the next request probes "broken" once, fails, re-opens
    assert call("probe", model="broken-primary").status_code == 200
    assert health()["services"]["providers"]["broken"] == "unavailable"


def test_it_retries_a_stream_that_fails_before_its_first_byte_reached_the_client(call, fake_upstream):
    name = tag()
    response = call(f"hi fake:flaky=1:{name}", stream=True)
    assert response.status_code == 200 and sse_events(response)[-1] == "[DONE]"
    assert fake_upstream.tag_count(name) == 2


def test_it_serves_a_model_added_in_config_on_an_openai_compatible_server(call, fake_upstream):
    for stream in (False, True):
        response = call("hello local model", model="llama-3.1-8b", stream=stream)
        assert response.status_code == 200
    received = fake_upstream.requests()["last"]["openai"]["body"]
    assert received["model"] == "meta-llama/Llama-3.1-8B-Instruct"


def test_it_answers_within_one_time_limit_across_retries_and_fallbacks(reliable_gateway, user_key):
    """Three attempts of a 3 s upstream on two providers would take 18 s; the request's one
    time limit (the client's X-Stainless-Timeout, shorter than the gateway's) ends it at
    about 2 s with a 504, however many attempts are left."""
    body = {"model": "broken-primary", "messages": [{"role": "user", "content": f"slow fake:delay=3 {tag()}"}]}
    response = httpx.post(f"{reliable_gateway.url}/v1/chat/completions", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {user_key}", "X-Stainless-Timeout": "2",
                                   "Cache-Control": "no-store"})
    body = assert_error(response, 504, "provider_timeout")
    assert "time limit" in body["error"]["message"]


def test_it_keeps_the_gateways_limit_when_the_client_allows_more(reliable_gateway, user_key):
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}
    response = httpx.post(f"{reliable_gateway.url}/v1/chat/completions", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {user_key}", "X-Stainless-Timeout": "600"})
    assert response.status_code == 200

"""Every request leaves one UsageRecord with its tokens, cost, latency and outcome."""

import time
from decimal import Decimal

import httpx
import pytest

from apps.stats.models import UsageRecord

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for_records(count: int, **filters) -> list[UsageRecord]:
    """The gateway writes usage in batches after answering; wait (bounded) for them."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        records = list(UsageRecord.objects.filter(**filters).order_by("id"))
        if len(records) >= count:
            return records
        time.sleep(0.1)
    raise AssertionError(f"expected {count} usage records for {filters}, found {len(records)}")


def post(gateway, key: str, content: str, *, model: str = "gpt-4o", stream: bool = False) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=30,
                      headers={"X-API-Key": key, "Cache-Control": "no-store"})


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", ["gpt-4o", "claude-sonnet-4-20250514", "gemini-2.5-flash"])
def test_it_records_tokens_and_cost(gateway, user_key, model, stream):
    response = post(gateway, user_key, "count my tokens please fake:words=7", model=model, stream=stream)
    assert response.status_code == 200
    [record] = wait_for_records(1, request_id=response.headers["X-Request-ID"])
    assert record.status_code == 200 and record.model == model and record.stream is stream
    assert record.completion_tokens == 7
    assert record.prompt_tokens > 0
    assert record.total_tokens == record.prompt_tokens + record.completion_tokens
    from gateway_site.gateway_config import get_config

    route = get_config().models[model]
    expected = (record.prompt_tokens * route.input_price + record.completion_tokens * route.output_price) / 1_000_000
    assert record.cost_usd == Decimal(str(round(expected, 8)))
    assert record.latency_ms > 0 and record.key_prefix == user_key[:12]
    assert (record.ttft_ms is not None) is stream


def test_it_records_failures_with_their_error_code(gateway, user_key):
    response = post(gateway, user_key, "hi fake:status=400")
    assert response.status_code == 400
    [record] = wait_for_records(1, request_id=response.headers["X-Request-ID"])
    assert (record.status_code, record.error_code, record.cost_usd) == (400, "invalid_request", 0)
    assert record.error_message == response.json()["error"]["message"]


def test_it_records_the_error_message_without_secrets(gateway, user_key):
    from apps.completions.outcome import Outcome, record_outcome
    from apps.keys.registry import key_lookup
    from apps.stats.usage import flush_all
    from gateway_site.errors import InvalidRequest

    leaked = "upstream said: bad key sk-abcdefghijklmnopqrstuvwx " + "and more " * 60
    outcome = Outcome(request_id="req_redacted_message", key=key_lookup(user_key), started=time.perf_counter())
    record_outcome(outcome, status=400, error=InvalidRequest(leaked))
    flush_all()
    record = UsageRecord.objects.get(request_id="req_redacted_message")
    assert "sk-abcdefghijklmnopqrstuvwx" not in record.error_message
    assert record.error_message.startswith("upstream said: bad key") and len(record.error_message) <= 300


def test_it_cancels_the_upstream_when_the_client_disconnects(gateway, user_key, fake_upstream):
    before = fake_upstream.requests()["disconnects"].get("openai", 0)
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "slowly fake:words=50 fake:slow_stream=0.2"}], "stream": True}
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body, timeout=30,
                      headers={"X-API-Key": user_key, "Cache-Control": "no-store"}) as response:
        request_id = response.headers["X-Request-ID"]
        lines = response.iter_lines()
        for _ in range(3):
            next(lines)
    # The client went away after a few events: the upstream connection must be closed too.
    deadline = time.monotonic() + 10
    while fake_upstream.requests()["disconnects"].get("openai", 0) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fake_upstream.requests()["disconnects"].get("openai", 0) == before + 1
    [record] = wait_for_records(1, request_id=request_id)
    assert (record.status_code, record.error_code) == (499, "client_closed")
    # The upstream never reported usage: what was relayed is estimated, and says so.
    assert record.tokens_estimated is True
    assert record.completion_tokens > 0 and record.prompt_tokens > 0 and record.cost_usd > 0


def test_it_records_what_the_gateway_itself_refused(gateway, user_key):
    """Every answer to a known key leaves a record, the gateway's own 4xx included."""
    bad_temperature = httpx.post(f"{gateway.url}/v1/chat/completions", headers={"X-API-Key": user_key}, timeout=30,
                                 json={"model": "gpt-4o", "temperature": 7, "messages": [{"role": "user", "content": "hi"}]})
    unknown_model = post(gateway, user_key, "hi", model="no-such-model")
    not_json = httpx.post(f"{gateway.url}/v1/chat/completions", headers={"X-API-Key": user_key}, content=b"{", timeout=30)
    for response, code in ((bad_temperature, "invalid_request"), (unknown_model, "model_not_found"), (not_json, "invalid_request")):
        assert response.status_code == 400
        [record] = wait_for_records(1, request_id=response.headers["X-Request-ID"])
        assert (record.status_code, record.error_code, record.key_prefix) == (400, code, user_key[:12])
    assert wait_for_records(1, request_id=bad_temperature.headers["X-Request-ID"])[0].model == ""


@pytest.mark.django_db(transaction=True)
def test_it_records_a_model_the_key_may_not_use(gateway):
    from apps.keys.services import key_create

    _, raw = key_create(name="narrow", allowed_models=["gpt-4o"])
    response = post(gateway, raw, "hi", model="gemini-2.5-flash")
    assert response.status_code == 403
    [record] = wait_for_records(1, request_id=response.headers["X-Request-ID"])
    assert (record.status_code, record.error_code) == (403, "permission_denied")


def test_a_non_streamed_answer_the_client_left_is_recorded_and_cached(gateway, user_key, fake_upstream):
    """The upstream answer is paid for either way: it is kept, so asking again is a hit."""
    import uuid

    tag = uuid.uuid4().hex[:8]
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": f"Worth keeping fake:delay=0.5 fake:tag={tag}"}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=0.2, headers={"X-API-Key": user_key})
    # The record is written in a batch after the (unsent) response; the cache store was
    # started just before it and takes a Redis round trip, so it is there by then.
    [record] = wait_for_records(1, key_prefix=user_key[:12], status_code=200)
    assert record.completion_tokens > 0 and record.cache == ""
    again = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=30, headers={"X-API-Key": user_key})
    assert again.status_code == 200 and again.headers["X-Cache"] == "HIT-EXACT"
    assert fake_upstream.requests()["tags"][tag] == 1

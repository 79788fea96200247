"""Every answer to an authenticated request says where the key stands: JSON, stream, 429,
and the endpoints that do not count against the limit."""

import openai
import pytest

from apps.keys.limiter import openai_duration
from apps.keys.services import key_create
from tests.keys.test_limiter_helpers import auth, chat_body

pytestmark = pytest.mark.django_db(transaction=True)

REQUEST_HEADERS = (
    "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
    "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests",
)
TOKEN_HEADERS = ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")


def new_key(**limits) -> str:
    return key_create(name="carol", **limits)[1]


def test_it_sends_the_headers_on_a_json_answer(http):
    key = new_key(rpm=5)
    response = http.post("/v1/chat/completions", json=chat_body(), headers=auth(key))
    assert response.status_code == 200
    assert all(name in response.headers for name in REQUEST_HEADERS)
    assert response.headers["X-RateLimit-Limit"] == "5" and response.headers["X-RateLimit-Remaining"] == "4"
    assert response.headers["x-ratelimit-remaining-requests"] == "4"
    assert 0 < int(response.headers["X-RateLimit-Reset"]) <= 60
    assert not any(name in response.headers for name in TOKEN_HEADERS)


def test_it_sends_the_headers_on_a_stream(http):
    key = new_key(rpm=5)
    with http.stream("POST", "/v1/chat/completions", json=chat_body(stream=True), headers=auth(key)) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["X-RateLimit-Remaining"] == "4"
        assert all(name in response.headers for name in REQUEST_HEADERS)
        assert b"data: [DONE]" in response.read()


def test_it_refuses_over_the_limit_with_retry_after(http):
    key = new_key(rpm=2)
    statuses = [http.post("/v1/chat/completions", json=chat_body(), headers=auth(key)) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    refused = statuses[-1]
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert refused.json()["request_id"] == refused.headers["X-Request-ID"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["X-RateLimit-Remaining"] == "0" and refused.headers["X-RateLimit-Limit"] == "2"
    assert all(name in refused.headers for name in REQUEST_HEADERS)


def test_the_openai_sdk_sees_a_rate_limit_error(gateway):
    key = new_key(rpm=1)
    sdk = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0, timeout=30)
    sdk.chat.completions.create(**chat_body(), extra_headers={"Cache-Control": "no-cache"})
    with pytest.raises(openai.RateLimitError) as refused:
        sdk.chat.completions.create(**chat_body(), extra_headers={"Cache-Control": "no-cache"})
    assert int(refused.value.response.headers["retry-after"]) >= 1


def test_other_endpoints_carry_the_headers_without_counting(http):
    key = new_key(rpm=5)
    http.post("/v1/chat/completions", json=chat_body(), headers=auth(key, bearer=True))
    for path in ("/v1/models", "/health", "/v1/models"):
        response = http.get(path, headers=auth(key, bearer=True))
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Remaining"] == "4", path
    denied = http.get("/stats", headers=auth(key))  # authenticated, but not admin
    assert denied.status_code == 403 and denied.headers["X-RateLimit-Remaining"] == "4"
    assert "X-RateLimit-Limit" not in http.get("/v1/models").headers  # no key: not authenticated


def test_it_sends_token_headers_and_refuses_once_the_tokens_are_spent(http):
    key = new_key(rpm=100, tpm=5)
    first = http.post("/v1/chat/completions", json=chat_body(), headers=auth(key))
    assert first.status_code == 200 and first.json()["usage"]["total_tokens"] > 5
    assert first.headers["x-ratelimit-limit-tokens"] == "5" and first.headers["x-ratelimit-remaining-tokens"] == "5"
    # The usage is written to Redis right after the answer; allow it a few requests to land.
    for _ in range(20):
        following = http.post("/v1/chat/completions", json=chat_body(), headers=auth(key))
        if following.status_code == 429:
            break
    assert following.status_code == 429
    assert following.headers["x-ratelimit-remaining-tokens"] == "0"
    assert int(following.headers["Retry-After"]) >= 1
    assert following.headers["x-ratelimit-reset-tokens"].endswith("s")


@pytest.mark.parametrize(("milliseconds", "text"), [
    (0, "0s"), (-5, "0s"), (12, "12ms"), (999, "999ms"), (1000, "1s"), (6000, "6s"), (17_280, "17.28s"),
    (59_999, "59.999s"), (60_000, "1m0s"), (90_500, "1m30.5s"),
])
def test_it_formats_reset_durations_like_openai(milliseconds, text):
    assert openai_duration(milliseconds) == text

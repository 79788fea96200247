"""Tokens per minute: real usage recorded after responses, checked before the next request."""

from apps.keys.limiter import ALLOWED, OVER_TOKENS, Limits, adecide, limit_headers, retry_after_seconds
from apps.keys import limiter
from gateway_site import runtime
from tests.keys.test_limiter_helpers import T0, backend, new_key_id, run  # noqa: F401  (fixture)

LIMITS = Limits(requests=100, tokens=1000)


async def record(key_id: str, tokens: int, offset_ms: int) -> None:
    if limiter.redis_configured():
        await limiter.arecord_tokens(key_id, tokens, now_ms=T0 + offset_ms)
    else:
        runtime.part(limiter.LocalWindows).record(key_id, tokens, T0 + offset_ms)


def test_it_refuses_once_the_window_holds_the_token_limit(backend):
    key_id = new_key_id(backend)

    async def scenario():
        first = await adecide(key_id, LIMITS, cost=1, now_ms=T0)
        await record(key_id, 600, 500)
        second = await adecide(key_id, LIMITS, cost=1, now_ms=T0 + 1000)  # 600 < 1000: admitted
        await record(key_id, 500, 1500)  # the answer overshoots: allowed once
        third = await adecide(key_id, LIMITS, cost=1, now_ms=T0 + 2000)
        return first, second, third

    first, second, third = run(scenario())
    assert (first.verdict, second.verdict, third.verdict) == (ALLOWED, ALLOWED, OVER_TOKENS)
    assert third.tokens_used == 1100
    headers = limit_headers(LIMITS, third)
    assert headers["x-ratelimit-limit-tokens"] == "1000" and headers["x-ratelimit-remaining-tokens"] == "0"
    # Usage is kept per second and counted until its second fully leaves the window: the
    # 600 tokens of second 0 drop out at 61 s, leaving 500 < 1000.
    assert retry_after_seconds(third) == 59


def test_it_admits_again_when_recorded_tokens_leave_the_window(backend):
    key_id = new_key_id(backend)

    async def scenario():
        await record(key_id, 1000, 0)
        return [await adecide(key_id, LIMITS, cost=1, now_ms=T0 + offset) for offset in (60_999, 61_000)]

    before, after = run(scenario())
    assert before.verdict == OVER_TOKENS and after.verdict == ALLOWED
    assert after.tokens_used == 0


def test_it_does_not_count_a_refused_request_against_the_request_limit(backend):
    key_id = new_key_id(backend)

    async def scenario():
        await record(key_id, 5000, 0)
        await adecide(key_id, LIMITS, cost=1, now_ms=T0 + 10)
        return await adecide(key_id, LIMITS, cost=0, now_ms=T0 + 20)

    assert run(scenario()).requests_used == 0


def test_it_sends_token_headers_only_when_a_token_limit_applies(backend):
    key_id = new_key_id(backend)

    async def scenario():
        return await adecide(key_id, Limits(requests=10), cost=1, now_ms=T0)

    headers = limit_headers(Limits(requests=10), run(scenario()))
    assert not any("tokens" in name for name in headers)
    assert headers["x-ratelimit-limit-requests"] == "10"

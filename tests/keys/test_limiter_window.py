"""The sliding window: exact at the boundary, frees slots as requests age out."""

from apps.keys.limiter import ALLOWED, OVER_REQUESTS, Limits, adecide, limit_headers, retry_after_seconds
from tests.keys.test_limiter_helpers import T0, backend, new_key_id, run  # noqa: F401  (fixture)

LIMIT = Limits(requests=3)


async def decide_at(key_id: str, offset_ms: int, *, cost: int = 1, limits: Limits = LIMIT):
    return await adecide(key_id, limits, cost=cost, now_ms=T0 + offset_ms)


def test_it_admits_exactly_the_limit_then_refuses(backend):
    key_id = new_key_id(backend)

    async def scenario():
        return [await decide_at(key_id, second * 1000) for second in range(5)]

    decisions = run(scenario())
    assert [d.verdict for d in decisions] == [ALLOWED, ALLOWED, ALLOWED, OVER_REQUESTS, OVER_REQUESTS]
    assert [limit_headers(LIMIT, d)["X-RateLimit-Remaining"] for d in decisions] == ["2", "1", "0", "0", "0"]
    # The 4th request (at +3 s) waits for the 1st (at 0 s) to leave the 60 s window.
    assert retry_after_seconds(decisions[3]) == 57
    assert limit_headers(LIMIT, decisions[3])["X-RateLimit-Reset"] == "57"


def test_it_admits_again_exactly_when_the_oldest_request_leaves_the_window(backend):
    key_id = new_key_id(backend)

    async def scenario():
        for second in range(3):
            await decide_at(key_id, second * 1000)
        return [await decide_at(key_id, offset) for offset in (59_999, 60_000, 60_001, 61_000, 62_000)]

    verdicts = [d.verdict for d in run(scenario())]
    assert verdicts == [OVER_REQUESTS, ALLOWED, OVER_REQUESTS, ALLOWED, ALLOWED]


def test_it_does_not_count_refused_requests(backend):
    key_id = new_key_id(backend)

    async def scenario():
        for second in range(3):
            await decide_at(key_id, second)
        for attempt in range(20):  # a client hammering while refused
            await decide_at(key_id, 1000 + attempt)
        return [await decide_at(key_id, 60_010 + n) for n in range(4)]

    assert [d.verdict for d in run(scenario())] == [ALLOWED, ALLOWED, ALLOWED, OVER_REQUESTS]


def test_it_peeks_without_counting(backend):
    key_id = new_key_id(backend)

    async def scenario():
        await decide_at(key_id, 0)
        peeks = [await decide_at(key_id, 10 + n, cost=0) for n in range(10)]
        return peeks, await decide_at(key_id, 100)

    peeks, counted = run(scenario())
    assert {(d.verdict, d.requests_used) for d in peeks} == {(ALLOWED, 1)}
    assert counted.verdict == ALLOWED and counted.requests_used == 2


def test_it_keeps_each_key_apart(backend):
    first, second = new_key_id(backend), new_key_id(backend)

    async def scenario():
        for n in range(3):
            await decide_at(first, n)
        return await decide_at(first, 10), await decide_at(second, 10)

    refused, admitted = run(scenario())
    assert refused.verdict == OVER_REQUESTS and admitted.verdict == ALLOWED


def test_it_applies_a_lowered_limit_to_requests_already_counted(backend):
    key_id = new_key_id(backend)

    async def scenario():
        for second in range(5):
            await decide_at(key_id, second * 1000, limits=Limits(requests=5))
        return await decide_at(key_id, 10_000, limits=Limits(requests=2))

    decision = run(scenario())
    assert decision.verdict == OVER_REQUESTS
    # 5 counted, limit 2: the 4th oldest (at +3 s) must leave before one more fits.
    assert retry_after_seconds(decision) == 53

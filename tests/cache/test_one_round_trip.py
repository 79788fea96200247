"""A request's exact-cache GET leaves in the same write as its rate-limit check: one Redis
round trip for both, and a refused request's prefetched reply is dropped quietly."""

import asyncio
import gc
import uuid

import pytest

from apps.cache.services import acache_lookup, acache_prefetch
from apps.keys import limiter
from gateway_site import fast_redis
from tests.cache.conftest import ask, chat_request, remember, run
from tests.site.test_fast_redis import count_writes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("redis_url")]


def test_the_cache_get_shares_the_rate_limit_checks_write(namespace):
    payload = ask(f"What is the capital of France? {uuid.uuid4().hex[:6]}")
    remember(payload, namespace=namespace)
    chat = chat_request(payload, namespace=namespace)

    async def one_request():
        # Once, so Redis knows the limiter's script: on a fresh Redis the first EVALSHA gets
        # NOSCRIPT and its EVAL fallback is a second write. The claim is the steady state.
        await limiter.arate_limit_check(chat.key)
        writes = count_writes(await fast_redis.get_fast_redis())
        await acache_prefetch(chat.cache)
        await limiter.arate_limit_check(chat.key)
        answer = await acache_lookup(chat.cache, completion_id=chat.completion_id)
        return writes, answer

    writes, answer = run(one_request())
    assert len(writes) == 1, writes
    assert b"GET" in writes[0] and b"EVALSHA" in writes[0]
    assert answer is not None and answer.kind == "exact"
    assert answer.completion["choices"][0]["message"]["content"] == "Paris is the capital of France."


def test_an_unread_prefetched_reply_that_fails_is_dropped_quietly(namespace):
    """A request refused by the rate limiter never reads its prefetched GET; if that reply
    fails (Redis gone), asyncio must not log "exception was never retrieved"."""
    loop_errors = []
    chat = chat_request(ask(f"Anything {uuid.uuid4().hex[:6]}"), namespace=namespace)

    async def refused_request():
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: loop_errors.append(context))
        await fast_redis.get_fast_redis()
        await acache_prefetch(chat.cache)
        assert chat.cache.exact_prefetch is not None
        await fast_redis.close_fast_redis()  # the reply fails before anyone reads it
        assert chat.cache.exact_prefetch.done()
        chat.cache.exact_prefetch = None  # the request is over: nothing holds the reply
        gc.collect()

    run(refused_request())
    assert loop_errors == []


def test_a_semantic_hit_counts_its_three_figures_in_one_write():
    from apps.cache.counters import acount_lookup, semantic_counters

    before = semantic_counters()

    async def count_a_hit():
        writes = count_writes(await fast_redis.get_fast_redis())
        await acount_lookup(hit=True, similarity=0.9)
        return writes

    writes = run(count_a_hit())
    assert len(writes) == 1 and writes[0].count(b"HINCRBY") == 3
    after = semantic_counters()
    assert after["queries"] - before["queries"] == 1 and after["hits"] - before["hits"] == 1
    assert after["similarity_micro"] - before["similarity_micro"] == 900_000

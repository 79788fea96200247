"""CPU cost of a budget check on the request path (apps/keys/budgets.py).

    REDIS_URL=redis://127.0.0.1:6379/0 python bench/budget_bench.py [--requests 5000]

Runs the admission's check (reserve) and the outcome's settlement for a key with a budget
against a real Redis, one at a time, and prints the process CPU time per request (what a
worker spends, not the Redis round trip it waits for), then the same for a key without one.
User time is the gateway's Python; system time is mostly the socket writes and epoll of a
loop doing one request at a time: in the gateway the check rides in the limiter's write.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")

import django  # noqa: E402

django.setup()

from apps.keys import budgets  # noqa: E402
from apps.keys.budgets import abudget_begin, abudget_finish, record_spend, spend_forget  # noqa: E402
from apps.keys.registry import Budget, KeyInfo  # noqa: E402


def key(with_budget: bool) -> KeyInfo:
    hashed = uuid.uuid4().hex * 2
    found = (Budget("key", 1, "bench", hashed[:16], Decimal("1000000"), "day"),) if with_budget else ()
    return KeyInfo(id=1, name="bench", prefix="pgw-bench", key_hash=hashed, is_admin=False, rpm=None, tpm=None,
                   allowed_models=frozenset(), namespace="", expires_at=None, revoked=False, budgets=found)


def seeded(info: KeyInfo) -> KeyInfo:
    """The counter set beforehand: the bench measures the steady state, not the seed query."""
    import datetime as dt

    from gateway_site.redis_client import get_sync_redis

    for budget in info.budgets:
        period = budgets.period_of(budget.period, dt.datetime.now(dt.timezone.utc))
        get_sync_redis().set(budgets.counter_name(budget, period), 0, ex=3600)
    return info


async def run(requests: int, with_budget: bool) -> tuple[float, float]:
    info = seeded(key(with_budget))
    started = os.times()
    for _ in range(requests):
        if info.budgets:  # what admission does for every key
            hold, _ = await abudget_finish(await abudget_begin(info, model="gpt-4o", estimate_usd=Decimal("0.0001")))
            record_spend(hold, Decimal("0.0001175"), learn=True)
    if budgets._pending:
        await asyncio.gather(*budgets._pending)
    ended = os.times()
    return ((ended.user - started.user) / requests * 1e6, (ended.system - started.system) / requests * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    requests = parser.parse_args().requests
    asyncio.run(run(200, True))  # warm: connection, script cache, the counter's seed
    for with_budget in (True, False):
        user_us, system_us = asyncio.run(run(requests, with_budget))
        print(f"{'with a budget' if with_budget else 'no budget':>14}: {user_us:6.1f} µs user + {system_us:6.1f} µs "
              f"system CPU per request ({requests} requests)")
    spend_forget()


if __name__ == "__main__":
    main()

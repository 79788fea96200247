"""CPU per request-path Redis round (exact-cache GET sent, limiter check, GET read) through
gateway_site/fast_redis.py, on one Redis, a three-node Cluster and behind Sentinel.

    REDIS_URL=redis://127.0.0.1:6379/0 DATABASE_URL=postgresql://x@127.0.0.1:1/x \\
        python bench/redis_ha_bench.py [--rounds 20000]

The Cluster and the Sentinel set-up are started on loopback by tests/redis_ha.py. Each
topology runs three times in a fresh process; rounds are sequential, so the figure is the
client's CPU per round (process_time), not throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")


async def rounds(count: int) -> None:
    from apps.cache import exact
    from apps.keys import limiter
    from gateway_site.fast_redis import close_fast_redis

    limits = limiter.Limits(requests=10**9)
    for _ in range(500):  # connect, load the script, warm up
        await limiter.adecide("benchkey00000000", limits, cost=1)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        get = await exact.aprefetch("cache:exact:bench")
        await limiter.adecide("benchkey00000000", limits, cost=1)
        await exact.aget("cache:exact:bench", prefetched=get)
    wall, used = time.perf_counter() - start, time.process_time() - cpu
    scheme = os.environ["REDIS_URL"].split("://")[0]
    print(f"| {scheme} | {used / count * 1e6:.0f} µs | {wall / count * 1e6:.0f} µs |", flush=True)
    await close_fast_redis()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20000)
    parser.add_argument("--one", action="store_true", help="(internal) run against REDIS_URL only")
    options = parser.parse_args()
    import django

    django.setup()
    if options.one:
        asyncio.run(rounds(options.rounds))
        return
    from tests.redis_ha import SentinelSetup, three_node_cluster

    def runs(url: str) -> None:
        for _ in range(3):
            subprocess.run([sys.executable, __file__, "--one", "--rounds", str(options.rounds)],
                           env={**os.environ, "REDIS_URL": url, "REDIS_SOCKET_TIMEOUT": "1"}, check=True)

    print("| REDIS_URL | CPU per round | wall per round |\n|---|---:|---:|")
    runs(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    with three_node_cluster() as (url, _):
        runs(url)
    sentinel = SentinelSetup().start()
    try:
        runs(sentinel.url)
    finally:
        sentinel.stop()


if __name__ == "__main__":
    main()

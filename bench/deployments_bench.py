"""CPU per request of deployment routing: choosing a deployment (one Redis round trip for
every deployment's state) plus the attempt's start and end writes, against a real Redis.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/deployments_bench.py [--requests 20000]

Prints µs of CPU per request (time.process_time, this process only: Redis's own work is
not counted) for a model with two deployments and, for comparison, the check a model with
one deployment pays (`config.deployments` empty).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20_000)
    count = parser.parse_args().requests
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
    import django

    django.setup()
    from apps.completions.deployments import aplan_routes, tracked
    from gateway_site.gateway_config import parse_config

    provider = {"protocol": "openai", "base_url": "http://127.0.0.1:1/v1"}
    config = parse_config({"providers": {"east": provider, "west": provider},
                           "models": {"pooled": {"deployments": [{"provider": "east", "weight": 3, "rpm": 10**9},
                                                                 {"provider": "west"}]},
                                      "solo": {"provider": "east"}}}, environ={})
    single = parse_config({"providers": {"east": provider}, "models": {"solo": {"provider": "east"}}}, environ={})

    async def answer(route):
        return route

    async def pooled() -> None:
        routes = await aplan_routes([config.models["pooled"]], config)
        await tracked(answer)(routes[0])

    async def solo() -> None:
        if single.deployments:  # what services.py checks: never true here
            await aplan_routes([single.models["solo"]], single)

    async def run(step) -> float:
        for _ in range(500):
            await step()  # warm: connection, script cache
        started = time.process_time()
        for _ in range(count):
            await step()
        await asyncio.sleep(0.05)  # the last fire-and-forget writes
        return (time.process_time() - started) / count * 1e6

    print(f"two deployments (weighted, rpm quota): {asyncio.run(run(pooled)):.1f} µs CPU per request")
    print(f"one deployment: {asyncio.run(run(solo)):.2f} µs CPU per request")


if __name__ == "__main__":
    main()

"""Cache benchmark: exact-cache hits vs. misses through the served gateway (wrk), and the
semantic lookup (embed by the running embedding service, `manage.py embedder`, + nearest-neighbour query).

    .venv/bin/python bench/cache_bench.py [--seconds 8] [--skip-semantic]

Needs REDIS_URL (default redis://127.0.0.1:6379/0) and wrk. Starts the fake upstream and
the gateway as bench/load.py does (uvicorn, uvloop + httptools, one worker, embedded
Postgres unless DATABASE_URL is set), creates a benchmark key, then:
- hits: the same request again and again (stored by a warm-up run), at 1 and 16 connections
  (at 16, alternating with the misses, `--pairs` times: the median ratio is the figure);
- misses: a new prompt every request (so: exact lookup, upstream call, background store);
- semantic: p50 of embed, of the nearest-neighbour query, and of both, over a table of
  filler entries, with the query plan Postgres chose.
Requests carry no temperature, so the semantic cache stays out of the wrk figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import create_key, start_gateway  # noqa: E402
from wrk import WrkResult, run_wrk  # noqa: E402

from tests.fakes.runner import FakeUpstream  # noqa: E402

BODY = '{"model": "gpt-4o", "messages": [{"role": "user", "content": "%s"}]}'


def wrk_table(url: str, key: str, seconds: float, pairs: int) -> dict[tuple[str, int], list[WrkResult]]:
    """Hit and miss runs, alternating; at 16 connections `pairs` times (the ratio of a pair
    is what counts, and alternating keeps a noisy neighbour from favouring one kind)."""
    headers = {"Authorization": f"Bearer {key}"}
    hit_prompt = f"What does a cache hit cost? {uuid.uuid4().hex[:8]}"
    # Warm-up: imports, connections, and the one answer every hit run will be served.
    run_wrk(url, body_template=BODY, prompt=hit_prompt, headers=headers, connections=1, seconds=2, unique=False)
    run_wrk(url, body_template=BODY, prompt=f"warm {uuid.uuid4().hex[:8]}", headers=headers, connections=4, seconds=2)
    results: dict[tuple[str, int], list[WrkResult]] = {}
    print("| kind | connections | requests/s | p50 ms | p90 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for connections, rounds in ((1, 1), (16, pairs)):
        for _ in range(rounds):
            for kind, unique in (("hit", False), ("miss", True)):
                # wrk numbers prompts from 1 in every run: a miss run needs a prompt of its own
                prompt = hit_prompt if kind == "hit" else f"What does a cache miss cost? {uuid.uuid4().hex[:8]}"
                result = run_wrk(url, body_template=BODY, prompt=prompt, headers=headers, connections=connections,
                                 seconds=seconds, unique=unique, threads=2 if connections > 1 else 1)
                results.setdefault((kind, connections), []).append(result)
                print(f"| {kind} | {connections} | {result.rps:.0f} | {result.p50_ms:.2f} | {result.p90_ms:.2f} "
                      f"| {result.p99_ms:.2f} | {result.errors} |", flush=True)
    return results


def exact_section(seconds: float, upstream_latency_ms: float, pairs: int) -> None:
    with FakeUpstream(latency_ms=upstream_latency_ms) as fake:
        env = {**os.environ, **fake.env(), "LOG_LEVEL": "WARNING", "GATEWAY_EMBEDDED_DB_KEEP": "1"}
        env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
        gateway, url = start_gateway(env, "uvicorn", 1)
        try:
            key = create_key(env)
            print(f"# exact cache through the gateway (uvicorn, 1 worker), Redis {env['REDIS_URL']}, "
                  f"fake upstream latency {upstream_latency_ms:g} ms, {seconds:g} s per run\n")
            results = wrk_table(f"{url}/v1/chat/completions", key, seconds, pairs)
        finally:
            gateway.terminate()
            gateway.wait(timeout=15)
    ratios = [hit.rps / miss.rps for hit, miss in zip(results[("hit", 16)], results[("miss", 16)])]
    print(f"\nhit p50 at 1 connection: {results[('hit', 1)][0].p50_ms:.2f} ms (goal <= 1.5 ms)")
    print(f"hits vs misses at 16 connections, {len(ratios)} alternating pairs: "
          f"{', '.join(f'{ratio:.2f}x' for ratio in ratios)}; median {statistics.median(ratios):.2f}x (goal >= 2x)\n")


# --- semantic lookup ---------------------------------------------------------------


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
    os.environ.setdefault("GATEWAY_EMBEDDED_DB_KEEP", "1")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "gateway_cache", verbosity=0)


def _filler(count: int, namespace: str, scopes: list[str]) -> None:
    import datetime as dt
    import random

    from django.utils import timezone

    from apps.cache.models import SemanticCacheEntry

    rng = random.Random(7)
    expires = timezone.now() + dt.timedelta(hours=1)
    rows = []
    for index in range(count):
        vector = [rng.gauss(0, 1) for _ in range(384)]
        norm = sum(x * x for x in vector) ** 0.5
        rows.append(SemanticCacheEntry(
            namespace=namespace, scope=scopes[index % len(scopes)], question=f"filler question {index}",
            embedding=[x / norm for x in vector], completion={"choices": []}, expires_at=expires,
        ))
    SemanticCacheEntry.objects.bulk_create(rows, batch_size=500)


def _p50(samples: list[float]) -> float:
    return statistics.median(samples[len(samples) // 10:])


async def _time_lookups(queries, rounds: int) -> tuple[float, float, float]:
    from asgiref.sync import sync_to_async

    from apps.cache import semantic
    from apps.cache.embedding_client import EmbedderClient

    client = EmbedderClient()

    embed_ms, query_ms, total_ms = [], [], []
    for index in range(rounds):
        query = queries[index % len(queries)]
        query.embedding = None
        started = time.perf_counter()
        query.embedding = await client.aembed(query.text, budget=1.0)
        embedded = time.perf_counter()
        await sync_to_async(semantic._find, thread_sensitive=False)(query)
        done = time.perf_counter()
        embed_ms.append((embedded - started) * 1000)
        query_ms.append((done - embedded) * 1000)
        total_ms.append((done - started) * 1000)
    return _p50(embed_ms), _p50(query_ms), _p50(total_ms)


def _plan(query) -> str:
    from django.db import connection

    from apps.cache import semantic

    params = {"vector": semantic.vector_literal(query.embedding), "scope": query.scope,
              "namespace": query.namespace, "limit": semantic.CANDIDATES}
    with connection.cursor() as cursor:
        cursor.execute("SET hnsw.iterative_scan = relaxed_order")
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + semantic.NEAREST_SQL, params)
        lines = [re.sub(r"'\[[^']*\]'", "'[...]'", row[0]) for row in cursor.fetchall()]  # the 384 numbers
    return "\n".join("    " + line for line in lines)


def semantic_section(rows: int, rounds: int) -> None:
    _setup_django()
    from django.db import connection

    from django.conf import settings

    from apps.cache.models import SemanticCacheEntry
    from apps.cache.policy import SemanticQuery

    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    hot, cold = "h" * 64, "c" * 64
    started = time.perf_counter()
    _filler(rows // 2, namespace, [hot])  # one hot scope (one system prompt, heavily used)...
    _filler(rows - rows // 2, namespace, [f"{i:064d}" for i in range(rows // 10)])  # ...and many small ones
    _filler(3, namespace, [cold])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {SemanticCacheEntry._meta.db_table}")  # the planner's row estimates
    print(f"# semantic lookup: {rows + 3} filler entries, {rows // 2} of them in one hot scope; inserted in "
          f"{time.perf_counter() - started:.1f} s; {rounds} lookups per case\n")
    from apps.cache.semantic import wait_for_embedder

    if not wait_for_embedder(timeout=10):
        raise SystemExit(f"no embedding service at {settings.GATEWAY_EMBEDDER_URL}: start `manage.py embedder` first")
    texts = ["How do I reverse a list in Python?", "What is the capital of Australia?", "Convert 100 Celsius to Fahrenheit",
             "Write a haiku about autumn", "Explain TCP slow start in two sentences"]
    try:
        print("| scope | embed p50 ms | query+verify p50 ms | lookup p50 ms |")
        print("|---|---:|---:|---:|")
        plans = []
        for label, scope in (("small (3 rows)", cold), ("hot", hot)):
            queries = [SemanticQuery(text=t, scope=scope, namespace=namespace, ttl=60, threshold=0.85) for t in texts]
            embed, query, total = asyncio.run(_time_lookups(queries, rounds))
            print(f"| {label} | {embed:.2f} | {query:.2f} | {total:.2f} |", flush=True)
            plans.append(f"\nplan, {label} scope:\n" + _plan(queries[0]))
        print("\n".join(plans))
    finally:
        SemanticCacheEntry.objects.filter(namespace=namespace).delete()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--upstream-latency-ms", type=float, default=0.0,
                        help="added by the fake upstream to every answer (real providers take 300 ms and more)")
    parser.add_argument("--rows", type=int, default=5000, help="filler entries for the semantic lookup")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--pairs", type=int, default=3, help="hit/miss pairs at 16 connections")
    parser.add_argument("--skip-exact", action="store_true")
    parser.add_argument("--skip-semantic", action="store_true")
    args = parser.parse_args()
    if not args.skip_exact:
        exact_section(args.seconds, args.upstream_latency_ms, args.pairs)
    if not args.skip_semantic:
        semantic_section(args.rows, args.rounds)


if __name__ == "__main__":
    main()

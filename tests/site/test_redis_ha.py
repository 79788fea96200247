"""The request path's Redis client in a real three-node Redis Cluster and through a real
Sentinel failover (tests/redis_ha.py starts both on loopback)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from decimal import Decimal

import httpx
import pytest
import redis
from django.test import override_settings
from redis.cluster import RedisCluster
from redis.crc import key_slot

from apps.cache import counters, exact
from apps.keys import limiter
from apps.keys.services import key_create
from gateway_site.fast_redis import FastRedisConnection, close_fast_redis, get_fast_redis
from gateway_site import runtime
from tests.gateway_server import GatewayServer
from tests.keys.test_limiter_helpers import auth, chat_body
from tests.redis_ha import SentinelSetup, three_node_cluster

PATIENT = 2.0  # seconds of socket timeout: these tests are about topology, not timeouts


@pytest.fixture(scope="module")
def cluster():
    with three_node_cluster() as (url, ports):
        yield url, ports


@pytest.fixture
def sentinel():
    setup = SentinelSetup().start()
    yield setup
    setup.stop()


def run(url: str, scenario):
    async def main():
        try:
            return await scenario()
        finally:
            await close_fast_redis()

    with override_settings(REDIS_URL=url, REDIS_SOCKET_TIMEOUT=PATIENT):
        return asyncio.run(main())


def node_of(ports: list[int], key: str) -> int:
    """The port of the primary that owns `key`'s slot (the test's cluster splits evenly)."""
    slot = key_slot(key.encode())
    return ports[0 if slot < 5461 else 1 if slot < 10923 else 2]


# --- Cluster ----------------------------------------------------------------------


def test_it_counts_limits_exactly_for_keys_on_every_node_of_a_cluster(cluster):
    url, ports = cluster
    key_ids = [uuid.uuid4().hex[:16] for _ in range(24)]
    assert {node_of(ports, limiter.redis_keys(key_id)[0]) for key_id in key_ids} == set(ports)
    limits = limiter.Limits(requests=3, tokens=1000)

    async def scenario():
        decisions = {key_id: [await limiter.adecide(key_id, limits, cost=1) for _ in range(4)] for key_id in key_ids}
        await asyncio.gather(*(limiter.arecord_tokens(key_id, 100) for key_id in key_ids))
        peeks = {key_id: await limiter.adecide(key_id, limits, cost=0) for key_id in key_ids}
        return decisions, peeks

    decisions, peeks = run(url, scenario)
    for key_id in key_ids:
        assert [d.verdict for d in decisions[key_id]] == [limiter.ALLOWED] * 3 + [limiter.OVER_REQUESTS]
        assert [d.requests_used for d in decisions[key_id]] == [1, 2, 3, 3]
        assert peeks[key_id].tokens_used == 100
    sync = RedisCluster(host="127.0.0.1", port=ports[0])
    assert all(sync.zcard(limiter.redis_keys(key_id)[0]) == 3 for key_id in key_ids)


def test_it_stores_exact_answers_and_semantic_counters_across_a_cluster(cluster):
    url, ports = cluster
    entries = {f"cache:exact:test:{uuid.uuid4().hex}": {"answer": index} for index in range(24)}
    assert {node_of(ports, exact.full_key(key)) for key in entries} == set(ports)

    async def scenario():
        assert all(await asyncio.gather(*(exact.aset(key, value, ttl=60) for key, value in entries.items())))
        prefetched = {key: await exact.aprefetch(key) for key in entries}
        got = {key: await exact.aget(key, prefetched=prefetched[key]) for key in entries}
        await counters.acount_lookup(hit=True, similarity=0.5)
        await counters.acount_lookup(hit=False)
        return got

    with override_settings(REDIS_URL=url):
        before = counters.semantic_counters()
    assert run(url, scenario) == entries
    with override_settings(REDIS_URL=url):
        after = counters.semantic_counters()
        assert exact.count_keys(exact.key_pattern("test")) >= len(entries)  # admin SCAN sees every node
    assert after["queries"] - before["queries"] == 2 and after["hits"] - before["hits"] == 1
    assert after["similarity_micro"] - before["similarity_micro"] == 500_000


def test_it_follows_a_slot_that_moved_to_another_node(cluster):
    url, ports = cluster
    key = f"moving:{uuid.uuid4().hex}"
    slot, owner = key_slot(key.encode()), node_of(ports, key)
    other = next(port for port in ports if port != owner)
    nodes = {port: redis.Redis(host="127.0.0.1", port=port) for port in ports}
    other_id = nodes[other].execute_command("CLUSTER", "MYID").decode()

    async def scenario():
        client = await get_fast_redis()  # its slot map says `owner`
        assert await client.execute("SET", key, "before") == b"OK"
        await client.execute("DEL", key)  # an empty slot may be handed over at once
        for node in nodes.values():
            node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", other_id)
        assert await client.execute("SET", key, "after") == b"OK"  # MOVED, then the new owner
        return await client.execute("GET", key)

    try:
        assert run(url, scenario) == b"after"
        assert nodes[other].get(key) == b"after"
    finally:
        owner_id = nodes[owner].execute_command("CLUSTER", "MYID").decode()
        nodes[other].delete(key)
        for node in nodes.values():
            node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", owner_id)


@pytest.mark.django_db(transaction=True)
def test_it_serves_limits_cache_and_budgets_from_a_cluster(cluster, fake_upstream, django_db_blocker):
    url, _ = cluster
    _, limited = key_create(name="olga", rpm=2)
    _, broke = key_create(name="pete", budget_usd=Decimal("0.000001"), budget_period="day")
    with GatewayServer({**fake_upstream.env(), "REDIS_URL": url}) as gateway, \
            httpx.Client(base_url=gateway.url, timeout=30, trust_env=False) as http:
        statuses = [http.post("/v1/chat/completions", json=chat_body(), headers=auth(limited)).status_code
                    for _ in range(3)]
        assert statuses == [200, 200, 429]
        body = chat_body()
        first = http.post("/v1/chat/completions", json=body, headers={"X-API-Key": broke})
        assert first.status_code == 200 and "X-Budget-Remaining-USD" in first.headers
        deadline = time.monotonic() + 15  # the spend lands in the background
        while (again := http.post("/v1/chat/completions", json=chat_body(), headers=auth(broke))).status_code == 200 \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        assert again.status_code == 429 and again.json()["error"]["code"] == "budget_exceeded"


# --- Sentinel ---------------------------------------------------------------------


def test_it_keeps_the_replicated_limit_state_through_a_sentinel_failover(sentinel):
    old_primary = sentinel.primary()
    written_before, load = uuid.uuid4().hex[:16], uuid.uuid4().hex[:16]
    limits = limiter.Limits(requests=1_000_000)

    async def scenario():
        for _ in range(50):
            assert (await limiter.adecide(written_before, limits, cost=1)).verdict == limiter.ALLOWED
        redis.Redis(port=old_primary).wait(1, 2000)  # the replica has them all
        admitted = []  # (port of the node that admitted, was it after the failover began)
        unavailable = 0
        failing_over = False
        new_primary = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            decision = await limiter.adecide(load, limits, cost=1)
            await exact.aget(f"cache:exact:test:{load}")  # a cache read beside it, as admit() sends
            if decision is None:  # Redis unavailable: the caller fails open (or closed)
                unavailable += 1
                await asyncio.sleep(0.01)
            else:
                admitted.append((connected_port(), failing_over))
            if not failing_over and len(admitted) >= 100:
                failing_over = True
                await asyncio.to_thread(sentinel.fail_over)
            if failing_over and new_primary is None and sentinel.primary() != old_primary:
                new_primary = sentinel.primary()
            if new_primary is not None and admitted and admitted[-1][0] == new_primary and len(
                    [entry for entry in admitted if entry[0] == new_primary]) >= 20:
                break
            await asyncio.sleep(0)
        kept = await limiter.adecide(written_before, limits, cost=0)
        final = await limiter.adecide(load, limits, cost=0)
        return admitted, unavailable, new_primary, kept, final

    admitted, unavailable, new_primary, kept, final = run(sentinel.url, scenario)
    assert new_primary is not None and new_primary != old_primary
    assert admitted[-1][0] == new_primary  # the client found the new primary by itself
    assert kept.requests_used == 50  # state replicated before the failover survives exactly
    # Only what the old primary admitted after the failover began may be lost: replication
    # is asynchronous, and the old primary takes writes until Sentinel demotes it.
    lost = len(admitted) - final.requests_used
    at_risk = sum(1 for port, after in admitted if port == old_primary and after)
    assert 0 <= lost <= at_risk
    # Admitted before the failover began, or by the new primary: never lost.
    assert final.requests_used >= sum(1 for port, after in admitted if not after or port == new_primary)


def connected_port() -> int | None:
    client = runtime.part(FastRedisConnection).client
    return client.transport.get_extra_info("peername")[1] if client is not None and client.transport else None


@pytest.mark.django_db(transaction=True)
def test_it_answers_no_500_through_a_sentinel_failover(sentinel, fake_upstream):
    _, user = key_create(name="quinn", rpm=100_000)
    old_primary = sentinel.primary()
    with GatewayServer({**fake_upstream.env(), "REDIS_URL": sentinel.url}) as gateway, \
            httpx.Client(base_url=gateway.url, timeout=30, trust_env=False) as http:
        statuses: list[int] = []
        stop = threading.Event()

        def traffic():
            while not stop.is_set():
                body = chat_body() if len(statuses) % 2 else {**chat_body(), "messages": [{"role": "user", "content": "hi"}]}
                statuses.append(http.post("/v1/chat/completions", json=body, headers={"X-API-Key": user}).status_code)

        worker = threading.Thread(target=traffic)
        worker.start()
        try:
            while len(statuses) < 20:
                time.sleep(0.05)
            sentinel.fail_over()
            new_primary = sentinel.wait_failed_over(old_primary)
            seen = len(statuses)
            while len(statuses) < seen + 20:
                time.sleep(0.05)
        finally:
            stop.set()
            worker.join(timeout=30)
        deadline = time.monotonic() + 10  # counting again on the new primary, within a few breaker pauses
        while (remaining := int(http.get("/v1/models", headers={"X-API-Key": user}).headers["X-RateLimit-Remaining"])) \
                == 100_000 and time.monotonic() < deadline:
            time.sleep(0.2)
    assert new_primary != old_primary
    assert set(statuses) == {200}, sorted(set(statuses))
    assert remaining < 100_000

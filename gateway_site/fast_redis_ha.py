"""The request path's Redis client (gateway_site/fast_redis.py) behind Sentinel or in a
Redis Cluster (URL forms: gateway_site/redis_topology.py).

Sentinel: ask the sentinels, in turn, for the primary's address, connect, and check that
the node says it is a master. After a failover the old primary drops its clients (Sentinel
sends it CLIENT KILL) or answers -READONLY, which drops the connection: the next
`get_fast_redis()` asks the sentinels again. Meanwhile the Redis breaker pauses Redis and
the limiter fails open (or closed), as for any Redis outage.

Cluster: the slot map from CLUSTER SLOTS, one pipelined FastRedis connection per primary,
each command sent to its key's slot's node (CRC16 of the key's hash tag, redis-py's
`key_slot`). A command's keys must share one slot: the limiter's and the budgets' keys
carry hash tags, the cache's commands have one key. -MOVED updates the map (and refreshes
it in the background), -ASK sends ASKING first; a lost node connection refreshes the map,
since a failover moves its slots to a promoted replica.
"""

from __future__ import annotations

import asyncio
import functools
import time

import redis.asyncio

from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway_site.fast_redis import FastRedis, Reply, Target, connect
from gateway_site.redis_topology import CLUSTER, SENTINEL, Address, RedisTopology, parse_topology

SLOTS = 16384
MAX_REDIRECTS = 5
REFRESH_EVERY = 0.5  # seconds at least between two slot-map refreshes after errors
# Commands whose second argument is not a key: sent to any node.
KEYLESS = frozenset({"PING", "ECHO", "SCRIPT", "INFO", "CLUSTER", "TIME", "DBSIZE", "CONFIG",
                     "CLIENT", "ROLE", "FLUSHALL", "FLUSHDB", "PUBLISH", "AUTH", "SELECT", "ASKING"})


async def open_ha(url: str, timeout: float) -> FastRedis | FastCluster:
    try:
        topology = parse_topology(url)
    except ValueError as exc:  # callers only expect RedisError
        raise RedisConnectionError(f"cannot connect to Redis: {exc}") from exc
    if topology.kind == SENTINEL:
        return await open_sentinel_primary(topology, timeout)
    if topology.kind == CLUSTER:
        cluster = FastCluster(asyncio.get_running_loop(), topology, timeout)
        await cluster.refresh_slots()
        return cluster
    raise RedisConnectionError(f"not a Sentinel or Cluster URL: {topology.kind}")


def node_target(topology: RedisTopology, address: Address, *, db: int = 0) -> Target:
    host, port = address
    return Target(host=host, port=port, use_tls=topology.use_tls, username=topology.username,
                  password=topology.password, db=db)


# --- Sentinel -------------------------------------------------------------------------


async def open_sentinel_primary(topology: RedisTopology, timeout: float) -> FastRedis:
    address = await primary_address(topology, timeout)
    client = await connect(node_target(topology, address, db=topology.db), timeout, role=b"master")
    watcher = client.loop.create_task(watch_for_switch(topology, client, address, timeout))
    client.watcher = watcher  # held until the connection goes: the loop keeps tasks only weakly
    return client


async def watch_for_switch(topology: RedisTopology, client: FastRedis, address: Address, timeout: float) -> None:
    """Drops `client` as soon as a sentinel announces +switch-master for our primary, so the
    next command goes to the new primary. Without this the old primary keeps taking writes
    (lost when it resyncs) until Sentinel demotes it, ~8 s after a failover ends."""
    while not client.closed:
        switched = await _switch_announced(topology, client, address, timeout)
        if switched:
            client.transport.abort()  # fails what is pending; the next get_fast_redis() asks the sentinels
            return
        if switched is None:
            await asyncio.sleep(1.0)  # no sentinel answers; the connection itself may still work


async def _switch_announced(topology: RedisTopology, client: FastRedis, address: Address,
                            timeout: float) -> bool | None:
    """True once a sentinel says our primary moved, False when the client closed first,
    None when no sentinel could be asked."""
    for host, port in topology.hosts:
        sentinel = redis.asyncio.Redis(host=host, port=port, password=topology.sentinel_password,
                                       socket_connect_timeout=timeout)
        try:
            async with sentinel.pubsub() as pubsub:
                await pubsub.subscribe("+switch-master")
                if await primary_address(topology, timeout) != address:  # it moved while we subscribed
                    return True
                while not client.closed:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message and message["data"].split(b" ", 1)[0] == topology.service.encode():
                        return True
                return False
        except (RedisError, OSError):
            continue
        finally:
            await sentinel.aclose()
    return None


async def primary_address(topology: RedisTopology, timeout: float) -> Address:
    """The primary's address from the first sentinel that knows it."""
    problems = []
    for host, port in topology.hosts:
        target = Target(host=host, port=port, password=topology.sentinel_password)
        try:
            sentinel = await connect(target, timeout)
        except RedisError as exc:
            problems.append(f"{host}:{port}: {exc}")
            continue
        try:
            reply = await sentinel.execute("SENTINEL", "get-master-addr-by-name", topology.service)
        except RedisError as exc:
            problems.append(f"{host}:{port}: {exc}")
            continue
        finally:
            await sentinel.close()
        if reply:
            return reply[0].decode(), int(reply[1])
        problems.append(f"{host}:{port}: does not know {topology.service!r}")
    raise RedisConnectionError(f"no sentinel named the primary {topology.service!r}: {'; '.join(problems)}")


# --- Cluster --------------------------------------------------------------------------


def command_slot(args: tuple) -> int | None:
    """The hash slot of a command's key; None for a command without one."""
    name = args[0].upper() if isinstance(args[0], str) else args[0].decode().upper()
    if name in ("EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "FCALL"):
        key = args[3] if int(args[2]) > 0 else None
    elif len(args) > 1 and name not in KEYLESS:
        key = args[1]
    else:
        return None
    return key_slot(key.encode() if isinstance(key, str) else key) if key is not None else None


class FastCluster:
    """A Redis Cluster behind FastRedis's submit()/execute(): one connection per primary."""

    def __init__(self, loop: asyncio.AbstractEventLoop, topology: RedisTopology, timeout: float) -> None:
        self.loop = loop
        self.topology = topology
        self.timeout = timeout
        self.closed = False
        self._slots: list[Address | None] = [None] * SLOTS
        self._nodes: dict[Address, FastRedis] = {}
        self._connecting: dict[Address, asyncio.Task] = {}
        self._refreshing: asyncio.Task | None = None
        self._refreshed_at = 0.0
        self._tasks: set[asyncio.Task] = set()  # the loop holds tasks only weakly

    def submit(self, *args: bytes | str | int | float) -> asyncio.Future:
        outer = self.loop.create_future()
        slot = command_slot(args)
        address = self._slots[slot] if slot is not None else next(iter(self._nodes), None)
        self._route(outer, args, address, asking=False, hops=0)
        return outer

    async def execute(self, *args: bytes | str | int | float) -> Reply:
        return await self.submit(*args)

    async def close(self) -> None:
        self.closed = True
        for task in (self._refreshing, *self._connecting.values(), *self._tasks):
            if task is not None:
                task.cancel()
        nodes, self._nodes = list(self._nodes.values()), {}
        for node in nodes:
            await node.close()

    # routing

    def _route(self, outer: asyncio.Future, args: tuple, address: Address | None, *, asking: bool, hops: int) -> None:
        node = self._nodes.get(address) if address is not None else None
        if node is None or node.closed:  # not connected yet, or lost: connect, then send
            self._spawn(self._route_later(outer, args, address, asking=asking, hops=hops))
            return
        if asking:
            node.submit("ASKING").add_done_callback(_retrieve)  # the same write as the command
        node.submit(*args).add_done_callback(functools.partial(self._settle, outer, args, hops))

    async def _route_later(self, outer: asyncio.Future, args: tuple, address: Address | None, *,
                           asking: bool, hops: int) -> None:
        try:
            if hops >= MAX_REDIRECTS:
                raise RedisConnectionError(f"Redis Cluster: no node took the command after {hops} tries")
            if address is None:
                await self.refresh_slots()
                slot = command_slot(args)
                address = self._slots[slot] if slot is not None else next(iter(self._nodes), None)
                if address is None:
                    raise RedisConnectionError("Redis Cluster: no node serves this slot")
            await self._node(address)
        except Exception as exc:
            if not outer.done():
                outer.set_exception(exc)
            return
        if not outer.done():
            self._route(outer, args, address, asking=asking, hops=hops + 1)

    def _settle(self, outer: asyncio.Future, args: tuple, hops: int, inner: asyncio.Future) -> None:
        if inner.cancelled():
            if not outer.done():
                outer.cancel()
            return
        error = inner.exception()
        if outer.done():
            return
        if error is None:
            outer.set_result(inner.result())
            return
        if isinstance(error, ResponseError) and hops < MAX_REDIRECTS:
            kind, _, rest = str(error).partition(" ")
            if kind in ("MOVED", "ASK"):
                slot, _, where = rest.partition(" ")
                address = _parse_address(where)
                if kind == "MOVED":
                    self._slots[int(slot)] = address
                    self.refresh_soon()
                self._route(outer, args, address, asking=kind == "ASK", hops=hops + 1)
                return
        if isinstance(error, (RedisConnectionError, RedisTimeoutError)):
            self.refresh_soon()  # a failover may have moved this node's slots
        outer.set_exception(error)

    # nodes and the slot map

    async def _node(self, address: Address) -> FastRedis:
        node = self._nodes.get(address)
        if node is not None and not node.closed:
            return node
        task = self._connecting.get(address)
        if task is None:
            task = self._connecting[address] = self.loop.create_task(self._open(address))
        return await asyncio.shield(task)

    async def _open(self, address: Address) -> FastRedis:
        try:
            node = await connect(node_target(self.topology, address), self.timeout)
            self._nodes[address] = node
            return node
        finally:
            self._connecting.pop(address, None)

    def refresh_soon(self) -> None:
        if self._refreshing is None and time.monotonic() - self._refreshed_at >= REFRESH_EVERY:
            self._spawn(self._quiet_refresh())

    async def _quiet_refresh(self) -> None:
        try:
            await self.refresh_slots()
        except RedisError:
            pass  # the next failed command asks again; callers see their own errors

    async def refresh_slots(self) -> None:
        """Reads the slot map from the first node that answers (once for concurrent callers)."""
        if self._refreshing is None:
            self._refreshing = self.loop.create_task(self._read_slots())
        task = self._refreshing
        try:
            await asyncio.shield(task)
        finally:
            if task.done() and self._refreshing is task:
                self._refreshing = None

    async def _read_slots(self) -> None:
        self._refreshed_at = time.monotonic()
        problems = []
        for address in dict.fromkeys((*self._nodes, *self.topology.hosts)):
            try:
                node = await self._node(address)
                reply = await node.execute("CLUSTER", "SLOTS")
            except RedisError as exc:
                problems.append(f"{address[0]}:{address[1]}: {exc}")
                continue
            self._apply(reply, address)
            return
        raise RedisConnectionError(f"no Redis Cluster node answered CLUSTER SLOTS: {'; '.join(problems)}")

    def _apply(self, reply: list, asked: Address) -> None:
        slots: list[Address | None] = [None] * SLOTS
        for start, end, primary, *_replicas in reply:
            host = primary[0].decode() if primary[0] and primary[0] != b"?" else asked[0]
            address = (host, int(primary[1]))
            slots[start:end + 1] = [address] * (end + 1 - start)
        self._slots = slots
        serving = set(slots)
        for address in [address for address in self._nodes if address not in serving]:
            self._spawn(self._nodes.pop(address).close())  # no longer a primary: let it go

    def _spawn(self, coroutine) -> None:
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _parse_address(where: str) -> Address:
    host, _, port = where.rpartition(":")
    return host.strip("[]"), int(port)


def _retrieve(reply: asyncio.Future) -> None:
    if not reply.cancelled():
        reply.exception()

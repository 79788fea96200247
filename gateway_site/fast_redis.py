"""A lean asyncio Redis client for the request hot path (rate limiter, exact cache).

redis-py's asyncio client spends ~85 µs of CPU per command on pool checkout, a per-call
``asyncio.timeout``, observability hooks and a StreamWriter. Here each process has one
RESP2 connection (one per event loop in tests), an ``asyncio.Protocol`` whose replies hiredis parses:

- Auto-pipelining: ``submit`` only appends the encoded command to a buffer; one
  ``call_soon`` flush writes everything submitted in the same loop tick in one write.
- Positional reply matching: Redis answers a connection's commands in order, so each reply
  belongs to the oldest pending entry. An entry leaves the queue only when its reply
  arrives (even if its caller gave up: the reply is then dropped) or when the connection is
  torn down and every entry fails. Never removing an entry early is what keeps replies from
  shifting to another caller, which would hand one tenant another's cached answer.
- One watchdog per connection instead of a timeout per call: every entry carries a deadline
  and a single ``call_at`` timer looks at the oldest. Replies come in order, so if the
  oldest is overdue everything behind it is stuck too: Redis is hung, every entry fails with
  TimeoutError and the connection is dropped; the next ``get_fast_redis()`` reconnects.

Errors are redis-py's exception classes, so callers' ``except RedisError`` clauses hold.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import ssl
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

import hiredis
from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway_site import runtime

Reply = object  # bytes, int, None, a list of replies, or a ResponseError nested in a list


class FastRedis(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self._reader = hiredis.Reader(replyError=ResponseError)
        self._pending: collections.deque[tuple[asyncio.Future, float]] = collections.deque()
        self._outgoing: list[bytes] = []
        self._flush_scheduled = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._lost: asyncio.Future = loop.create_future()
        self.watcher: asyncio.Task | None = None  # Sentinel: listens for a failover (fast_redis_ha.py)

    def submit(self, *args: bytes | str | int | float) -> asyncio.Future:
        command = encode_command(args)  # before queueing: a TypeError must not leave an entry behind
        future = self.loop.create_future()
        if self.closed:
            future.set_exception(RedisConnectionError("Redis connection is closed"))
            return future
        deadline = self.loop.time() + self.timeout
        self._pending.append((future, deadline))
        self._outgoing.append(command)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)
        if self._watchdog is None:
            self._watchdog = self.loop.call_at(deadline, self._check_deadlines)
        return future

    async def execute(self, *args: bytes | str | int | float) -> Reply:
        return await self.submit(*args)

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()  # not close(): a hung Redis would never take the buffer
            await self._lost  # connection_lost fails what is pending

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._outgoing and not self.closed:
            data = b"".join(self._outgoing)
            self._outgoing.clear()
            self.transport.write(data)

    def _check_deadlines(self) -> None:
        self._watchdog = None
        if not self._pending:
            return
        oldest_deadline = self._pending[0][1]
        if oldest_deadline <= self.loop.time():
            self._fail_all(RedisTimeoutError, f"Redis did not answer within {self.timeout}s")
            self.transport.abort()
        else:
            self._watchdog = self.loop.call_at(oldest_deadline, self._check_deadlines)

    def _fail_all(self, error_class: type[Exception], message: str) -> None:
        self.closed = True
        self._outgoing.clear()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        pending, self._pending = self._pending, collections.deque()
        for future, _ in pending:
            if not future.done():
                future.set_exception(error_class(message))  # one instance each: tracebacks differ

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_all(RedisConnectionError, f"Redis connection lost: {exc or 'closed by server'}")
        if self.watcher is not None:
            self.watcher.cancel()
        if not self._lost.done():
            self._lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as exc:  # the stream is unreadable from here on
                self._fail_all(RedisConnectionError, f"Redis protocol error: {exc}")
                self.transport.abort()
                return
            if reply is False:
                return
            if not self._pending:  # a reply nobody asked for: matching can no longer be trusted
                self._fail_all(RedisConnectionError, "Redis sent an unexpected reply")
                self.transport.abort()
                return
            future, _ = self._pending.popleft()
            if future.done():  # its caller was cancelled: the reply is dropped, never shifted
                continue
            if isinstance(reply, ResponseError):
                error = as_redis_error(reply)
                future.set_exception(error)
                if type(error) is ReadOnlyError:  # a failover made this node a replica: find the primary again
                    self._fail_all(RedisConnectionError, "Redis became a replica (failover)")
                    self.transport.abort()
                    return
            else:
                future.set_result(reply)


def encode_command(args: tuple) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, int) and not isinstance(arg, bool):  # like redis-py, refuse a bool
            data = b"%d" % arg
        elif isinstance(arg, float):
            data = repr(arg).encode()
        else:
            raise TypeError(f"cannot send {type(arg).__name__} to Redis: {arg!r}")
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def as_redis_error(reply: ResponseError) -> ResponseError:
    message = str(reply)
    if message.startswith("NOSCRIPT"):
        return NoScriptError(message)
    return ReadOnlyError(message) if message.startswith("READONLY") else reply


@dataclass(frozen=True)
class Target:
    host: str = ""
    port: int = 6379
    unix_path: str = ""
    use_tls: bool = False
    username: str | None = None
    password: str | None = None
    db: int = 0


def parse_redis_url(url: str) -> Target:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    username = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password else query.get("password")
    if parts.scheme == "unix":
        return Target(unix_path=parts.path, username=username, password=password,
                      db=int(query.get("db", 0)))
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"unsupported Redis URL scheme {parts.scheme!r}")
    return Target(host=parts.hostname or "localhost", port=parts.port or 6379,
                  use_tls=parts.scheme == "rediss", username=username, password=password,
                  db=int(parts.path.lstrip("/") or query.get("db", 0)))


async def open_fast_redis(url: str, timeout: float) -> FastRedis:
    try:
        target = parse_redis_url(url)
    except ValueError as exc:  # a bad URL too: callers only expect RedisError
        raise RedisConnectionError(f"cannot connect to Redis: {exc}") from exc
    return await connect(target, timeout)


async def connect(target: Target, timeout: float, *, role: bytes = b"") -> FastRedis:
    """A connection to `target`, authenticated; with `role`, refused unless the node's ROLE
    is that one (a sentinel's answer may be a moment stale during a failover)."""
    loop = asyncio.get_running_loop()
    client: FastRedis | None = None
    try:
        async with asyncio.timeout(timeout):
            if target.unix_path:
                _, client = await loop.create_unix_connection(
                    lambda: FastRedis(loop, timeout), target.unix_path)
            else:
                _, client = await loop.create_connection(
                    lambda: FastRedis(loop, timeout), target.host, target.port,
                    ssl=ssl.create_default_context() if target.use_tls else None)
            await handshake(client, target, role)
        return client
    except BaseException as exc:
        if client is not None:
            client.transport.abort()
        if isinstance(exc, TimeoutError):  # the builtin, from asyncio.timeout; an OSError too
            raise RedisTimeoutError(f"Redis did not accept a connection within {timeout}s") from exc
        if isinstance(exc, (OSError, ValueError)):  # a bad URL too: callers only expect RedisError
            raise RedisConnectionError(f"cannot connect to Redis: {exc}") from exc
        raise


async def handshake(client: FastRedis, target: Target, role: bytes = b"") -> None:
    commands = []
    if target.password:
        commands.append(("AUTH", target.username, target.password) if target.username
                        else ("AUTH", target.password))
    if target.db:
        commands.append(("SELECT", target.db))
    if role:
        commands.append(("ROLE",))
    replies = await asyncio.gather(*(client.submit(*command) for command in commands),
                                   return_exceptions=True)
    for command, reply in zip(commands, replies):
        if isinstance(reply, ResponseError):
            raise RedisConnectionError(f"Redis refused {command[0]}: {reply}")
        if isinstance(reply, BaseException):
            raise reply
    if role and replies[-1][0] != role:
        raise RedisConnectionError(f"Redis at {target.host}:{target.port} is a {replies[-1][0].decode()}, not a {role.decode()}")


async def open_for_url(url: str, timeout: float) -> FastRedis:
    """One Redis, the primary Sentinel names, or a whole cluster (gateway_site/redis_topology.py);
    each answers submit() and execute() alike."""
    if "+" not in url.partition("://")[0]:
        return await open_fast_redis(url, timeout)
    from gateway_site import fast_redis_ha  # it builds on this module

    return await fast_redis_ha.open_ha(url, timeout)


class FastRedisConnection:
    """The process's request-path Redis connection, a part of its runtime
    (gateway_site/runtime.py). A connection belongs to the loop it was opened on."""

    def __init__(self) -> None:
        self.client: FastRedis | None = None
        self.connecting: asyncio.Task | None = None

    async def get(self) -> FastRedis:
        loop = asyncio.get_running_loop()
        client = self.client
        if client is not None and client.loop is loop and not client.closed:
            return client
        if self.connecting is None or self.connecting.get_loop() is not loop:
            self.connecting = loop.create_task(self._connect())
        # shield: a caller that is cancelled must not cancel the connection others are waiting for
        return await asyncio.shield(self.connecting)

    async def _connect(self) -> FastRedis:
        try:
            self.client = await open_for_url(settings.REDIS_URL, settings.REDIS_SOCKET_TIMEOUT)
            return self.client
        finally:
            if self.connecting is asyncio.current_task():
                self.connecting = None

    async def aclose(self) -> None:
        client, self.client, self.connecting = self.client, None, None
        if client is not None and client.loop is asyncio.get_running_loop():
            await client.close()


async def get_fast_redis() -> FastRedis:
    """This process's connected client, connecting (once for all concurrent callers) if
    needed. Raises redis.exceptions.ConnectionError or TimeoutError."""
    return await runtime.part(FastRedisConnection).get()


async def close_fast_redis() -> None:
    await runtime.part(FastRedisConnection).aclose()


class LuaScript:
    """A Lua script run by its SHA1 (EVALSHA), sent again in full after Redis lost its script
    cache (a restart, SCRIPT FLUSH)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def aeval(self, client: FastRedis, keys: tuple[str, ...], args: tuple) -> Reply:
        try:
            return await client.execute("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.execute("EVAL", self.source, len(keys), *keys, *args)

    def send(self, client: FastRedis, keys: tuple[str, ...], args: tuple,
             on_error: Callable[[BaseException], object]) -> None:
        """Fire and forget, for a write nobody waits for: pipelined with whatever else this
        loop tick sends; a failure goes to `on_error`."""

        def done(future: asyncio.Future) -> None:
            error = None if future.cancelled() else future.exception()
            if isinstance(error, NoScriptError):
                client.submit("EVAL", self.source, len(keys), *keys, *args).add_done_callback(done)
            elif error is not None:
                on_error(error)

        client.submit("EVALSHA", self.sha, len(keys), *keys, *args).add_done_callback(done)

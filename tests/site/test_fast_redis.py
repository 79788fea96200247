"""The hot-path Redis client: every caller gets its own reply, however many share the
connection, cancel, or hit a hung or dead Redis; errors are redis-py's classes."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest
import redis
from django.test import override_settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway_site.embedded_redis import redis_server_binary
from gateway_site.fast_redis import close_fast_redis, get_fast_redis, parse_redis_url

PATIENT = 2.0  # seconds: tests that are not about timeouts must not flake on a busy machine


@pytest.fixture
def prefix(redis_url):
    """A key prefix of the test's own on the shared Redis; its keys are deleted afterwards."""
    name = f"test-fast-redis:{uuid.uuid4().hex}"
    yield name
    sync = redis.Redis.from_url(redis_url)
    keys = list(sync.scan_iter(match=f"{name}*", count=1000))
    if keys:
        sync.delete(*keys)
    sync.close()


def run(url: str, scenario, *, timeout: float = PATIENT):
    """Runs scenario(client) on a fresh event loop against url, closing the client after."""
    async def main():
        try:
            return await scenario(await get_fast_redis())
        finally:
            await close_fast_redis()

    with override_settings(REDIS_URL=url, REDIS_SOCKET_TIMEOUT=timeout):
        return asyncio.run(main())


class CountingTransport:
    """Passes everything to the client's transport, keeping what each write call sent."""

    def __init__(self, transport) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.transport.write(data)

    def __getattr__(self, name: str):
        return getattr(self.transport, name)


def count_writes(client) -> list[bytes]:
    """What the client hands its transport, one item per write call."""
    client.transport = CountingTransport(client.transport)  # uvloop's transports are read-only
    return client.transport.writes


def test_it_round_trips_bulk_strings_integers_nil_and_arrays(redis_url, prefix):
    async def scenario(client):
        assert await client.execute("SET", f"{prefix}:s", "héllo") == b"OK"
        assert await client.execute("GET", f"{prefix}:s") == "héllo".encode()
        assert await client.execute("SET", f"{prefix}:b", b"\x00\xff\r\n") == b"OK"
        assert await client.execute("GET", f"{prefix}:b") == b"\x00\xff\r\n"
        assert await client.execute("INCRBY", f"{prefix}:n", 41) == 41
        assert await client.execute("INCRBYFLOAT", f"{prefix}:f", 1.5) == b"1.5"
        assert await client.execute("DEL", f"{prefix}:s", f"{prefix}:b", f"{prefix}:n") == 3
        assert await client.execute("GET", f"{prefix}:s") is None
        script = "return {1, 2, tonumber(ARGV[1]), #KEYS}"
        assert await client.execute("EVAL", script, 1, f"{prefix}:k", 7) == [1, 2, 7, 1]

    run(redis_url, scenario)


def test_it_raises_redis_py_errors_and_keeps_replies_in_step(redis_url, prefix):
    async def scenario(client):
        with pytest.raises(NoScriptError):
            await client.execute("EVALSHA", "0" * 40, 0)
        await client.execute("SET", f"{prefix}:text", "a string")
        with pytest.raises(ResponseError, match="^WRONGTYPE") as wrong_type:
            await client.execute("LPUSH", f"{prefix}:text", "x")
        assert not isinstance(wrong_type.value, NoScriptError)
        assert await client.execute("GET", f"{prefix}:text") == b"a string"

        # An error in the middle of a pipelined batch takes only its own slot.
        before = client.submit("ECHO", "before")
        failing = client.submit("LPUSH", f"{prefix}:text", "x")
        after = client.submit("ECHO", "after")
        replies = await asyncio.gather(before, failing, after, return_exceptions=True)
        assert replies[0] == b"before" and replies[2] == b"after"
        assert isinstance(replies[1], ResponseError)

        with pytest.raises(TypeError):  # refused before anything is queued or sent
            client.submit("GET", None)
        assert await client.execute("ECHO", "still in step") == b"still in step"

    run(redis_url, scenario)


def test_it_gives_each_of_2000_concurrent_callers_its_own_reply(redis_url, prefix):
    keys = [f"{prefix}:{i}" for i in range(2000)]

    async def scenario(client):
        writes = count_writes(client)
        set_replies = await asyncio.gather(*(client.execute("SET", key, f"value-{i}")
                                             for i, key in enumerate(keys)))
        assert set_replies == [b"OK"] * len(keys)
        assert len(writes) == 1  # 2,000 callers in one tick: one write
        values = await asyncio.gather(*(client.execute("GET", key) for key in keys))
        assert values == [f"value-{i}".encode() for i in range(len(keys))]
        assert len(writes) == 2

    run(redis_url, scenario)


def test_it_writes_the_commands_of_one_tick_in_one_write(redis_url):
    async def scenario(client):
        writes = count_writes(client)
        futures = [client.submit("ECHO", f"message-{i}") for i in range(500)]
        assert writes == []  # nothing goes out before the tick ends
        assert await asyncio.gather(*futures) == [f"message-{i}".encode() for i in range(500)]
        assert len(writes) == 1 and writes[0].count(b"ECHO") == 500
        assert await client.execute("PING") == b"PONG"
        assert len(writes) == 2

    run(redis_url, scenario)


def test_it_never_hands_a_cancelled_callers_reply_to_another(redis_url, prefix):
    keys = [f"{prefix}:{i}" for i in range(300)]

    async def scenario(client):
        await asyncio.gather(*(client.execute("SET", key, f"value-{i}") for i, key in enumerate(keys)))
        callers = [asyncio.create_task(client.execute("GET", key)) for key in keys]
        await asyncio.sleep(0)  # every caller has submitted; the write goes out next tick
        for caller in callers[::3]:
            caller.cancel()
        results = await asyncio.gather(*callers, return_exceptions=True)
        for i, result in enumerate(results):
            if i % 3 == 0:
                assert isinstance(result, asyncio.CancelledError)
            else:
                assert result == f"value-{i}".encode()
        assert await client.execute("GET", keys[1]) == b"value-1"
        assert await client.execute("ECHO", "next") == b"next"

    run(redis_url, scenario)


def test_it_times_out_everything_pending_when_redis_hangs_and_reconnects_after(disposable_redis):
    pid = disposable_redis.process.pid

    async def scenario(client):
        assert await client.execute("PING") == b"PONG"
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            results = await asyncio.wait_for(asyncio.gather(
                *(client.execute("GET", f"key-{i}") for i in range(5)), return_exceptions=True), 5)
            elapsed = time.monotonic() - started
        finally:
            os.kill(pid, signal.SIGCONT)
        assert all(isinstance(result, RedisTimeoutError) for result in results), results
        assert elapsed >= 0.04  # the watchdog waits for the deadline; no upper bound but 5 s
        assert client.closed
        again = await get_fast_redis()
        assert again is not client
        assert await again.execute("ECHO", "back") == b"back"

    run(disposable_redis.url, scenario, timeout=0.05)


def test_it_raises_connection_error_when_redis_is_down_and_reconnects_when_back(disposable_redis):
    async def scenario(client):
        assert await client.execute("PING") == b"PONG"
        disposable_redis.stop()
        with pytest.raises(RedisConnectionError):
            await asyncio.wait_for(client.execute("PING"), 5)
        with pytest.raises(RedisConnectionError):
            await asyncio.wait_for(get_fast_redis(), 5)
        disposable_redis.start()  # same port
        again = await get_fast_redis()
        assert again is not client
        assert await again.execute("ECHO", "back") == b"back"

    run(disposable_redis.url, scenario)


def test_it_makes_one_connection_for_concurrent_first_callers(redis_url):
    async def scenario(client):
        await close_fast_redis()
        clients = await asyncio.gather(*(get_fast_redis() for _ in range(50)))
        assert all(each is clients[0] for each in clients) and clients[0] is not client

    run(redis_url, scenario)


def test_it_selects_the_database_in_the_url(redis_url, prefix):
    url_db5 = redis_url.rsplit("/", 1)[0] + "/5"
    key = f"{prefix}:db5"

    async def scenario(client):
        return await client.execute("SET", key, "in five")

    db5, db0 = redis.Redis.from_url(url_db5), redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + "/0")
    try:
        assert run(url_db5, scenario) == b"OK"
        assert db5.get(key) == b"in five"
        assert db0.get(key) is None
    finally:
        db5.delete(key)
        db5.close()
        db0.close()


def test_it_authenticates_with_the_user_and_password_in_the_url(disposable_redis):
    admin = redis.Redis.from_url(disposable_redis.url)
    admin.execute_command("ACL", "SETUSER", "alice", "on", ">s3cret/pw", "~*", "+@all")
    base = f"127.0.0.1:{disposable_redis.port}"

    async def scenario(client):
        return [await client.execute("ACL", "WHOAMI"), await client.execute("CLIENT", "INFO")]

    whoami, info = run(f"redis://alice:s3cret%2Fpw@{base}/3", scenario)
    assert whoami == b"alice" and b" db=3 " in info
    with pytest.raises(RedisConnectionError, match="AUTH"):
        run(f"redis://alice:wrong@{base}/0", scenario)
    admin.close()


@pytest.fixture
def unix_socket_redis():
    """A redis-server listening only on a unix socket."""
    directory = tempfile.mkdtemp(prefix="fr-", dir="/tmp")  # socket paths are limited to ~100 bytes
    path = os.path.join(directory, "redis.sock")
    process = subprocess.Popen(
        [redis_server_binary(), "--port", "0", "--unixsocket", path, "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield path
    finally:
        process.kill()
        process.wait()
        shutil.rmtree(directory, ignore_errors=True)


def test_it_connects_over_a_unix_socket(unix_socket_redis):
    async def scenario(client):
        await client.execute("SET", "on-unix", "yes")
        return await client.execute("CLIENT", "INFO")

    assert b" db=2 " in run(f"unix://{unix_socket_redis}?db=2", scenario)
    assert redis.Redis(unix_socket_path=unix_socket_redis, db=2).get("on-unix") == b"yes"


def test_it_fails_pending_commands_with_connection_error_on_a_protocol_error():
    async def main():
        async def speak_nonsense(reader, writer):
            await reader.read(100)
            writer.write(b"!not resp\r\n")
            await reader.read()  # until the client hangs up
            writer.close()

        server = await asyncio.start_server(speak_nonsense, "127.0.0.1", 0)
        url = f"redis://127.0.0.1:{server.sockets[0].getsockname()[1]}/0"
        try:
            with override_settings(REDIS_URL=url, REDIS_SOCKET_TIMEOUT=PATIENT):
                client = await get_fast_redis()
                with pytest.raises(RedisConnectionError, match="protocol error"):
                    await asyncio.wait_for(client.execute("PING"), 5)
                assert client.closed
        finally:
            await close_fast_redis()
            server.close()
            await server.wait_closed()

    asyncio.run(main())


def test_it_parses_the_redis_url_forms():
    assert parse_redis_url("redis://localhost") == parse_redis_url("redis://localhost:6379/0")
    target = parse_redis_url("rediss://bob:p%40ss@cache.example:6380/4")
    assert (target.host, target.port, target.use_tls, target.username, target.password, target.db) \
        == ("cache.example", 6380, True, "bob", "p@ss", 4)
    target = parse_redis_url("redis://:only-password@[::1]:7000")
    assert (target.host, target.port, target.username, target.password) == ("::1", 7000, None, "only-password")
    target = parse_redis_url("unix:///run/redis.sock?db=9&password=pw")
    assert (target.unix_path, target.db, target.password) == ("/run/redis.sock", 9, "pw")

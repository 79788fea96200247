"""Real services a test may start, stop and restart without hurting anything else."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time

import pytest

from gateway_site.embedded_redis import EmbeddedRedisError, redis_server_binary
from tests.gateway_server import free_port


class DisposableRedis:
    """A redis-server of the test's own on a free port."""

    def __init__(self) -> None:
        try:
            self.binary = redis_server_binary()
        except EmbeddedRedisError as error:
            pytest.fail(str(error))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> "DisposableRedis":
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail("disposable redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@contextlib.contextmanager
def unreachable_database():
    """Points this thread's database connection at a port where nothing listens: every
    query fails the way it does when PostgreSQL is down (psycopg's OperationalError)."""
    from django.db import connection

    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)

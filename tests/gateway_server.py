"""Runs the real ASGI app (uvicorn, production settings) in a subprocess for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.db import connection

REPO_ROOT = Path(__file__).resolve().parents[1]
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database pytest-django created, so the server sees the test's rows."""
    db = connection.settings_dict
    host = db["HOST"]
    if host.startswith("/"):
        return f"postgresql://{db['USER']}:{db['PASSWORD']}@/{db['NAME']}?host={host}"
    return f"postgresql://{db['USER']}:{db['PASSWORD']}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def server_command(server: str, port: int, workers: int) -> list[str]:
    """The production server settings (README), so tests see what users run."""
    app = "gateway_site.asgi:application"
    if server == "granian":
        return [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers), "--loop", "uvloop", "--no-ws", "--log-level", "warning", app]
    return [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--lifespan", "on"]


class GatewayServer:
    def __init__(self, env: dict[str, str] | None = None, *, workers: int = 1, manage_py_serve: bool = False) -> None:
        self.port = free_port()
        self.manage_py_serve = manage_py_serve  # `manage.py serve` (migrates, then uvicorn) rather than uvicorn alone
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_env = env or {}
        self.workers = workers
        self.process: subprocess.Popen | None = None
        self.log_path = REPO_ROOT / "var" / f"test-gateway-{self.port}.log"

    def start(self) -> "GatewayServer":
        env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "DATABASE_CONN_MAX_AGE": "0",
            # Roomier than production's 50 ms: on a loaded CI machine a slow answer from a
            # healthy Redis must not look like an outage (limits failing open, stores
            # skipped). Redis failures are tested with dead or hung servers instead.
            "REDIS_SOCKET_TIMEOUT": "0.5",
            **self.extra_env,
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.log_path.parent.mkdir(exist_ok=True)
        log = open(self.log_path, "w")
        command = server_command(os.environ.get("GATEWAY_TEST_SERVER", "uvicorn"), self.port, self.workers)
        if self.manage_py_serve:
            command = [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                       "--workers", str(self.workers)]
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                with _OPENER.open(f"{self.url}/health/live", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gateway did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text()

    def __enter__(self) -> "GatewayServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

"""Start and stop the fake upstream in a subprocess on a free port.

    with FakeUpstream() as fake:
        env = fake.env()          # OPENAI_BASE_URL, ANTHROPIC_BASE_URL, GEMINI_BASE_URL, keys
        ...
        fake.requests()["tags"]   # what reached the fake

A subprocess (not a thread) so the fake's event loop never competes with the code under
test, and so a hung test cannot leave a server running inside the test process.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DUMMY_KEY = "fake-key"  # any value but "bad-key" is accepted
_READY_PREFIX = "fake upstream listening on "  # upstream.READY_PREFIX, not imported: no aiohttp needed here
# 127.0.0.1 must never go through an HTTP(S)_PROXY from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class FakeUpstream:
    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, latency_ms: float | None = None,
                 workers: int = 1, startup_timeout: float = 15.0) -> None:
        self.host, self.port = host, port
        self.latency_ms, self.workers = latency_ms, workers
        self.startup_timeout = startup_timeout
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> FakeUpstream:
        if self._process is not None:
            return self
        command = [sys.executable, "-m", "tests.fakes.upstream", "--host", self.host,
                   "--port", str(self.port), "--workers", str(self.workers)]
        if self.latency_ms is not None:  # else the child reads FAKE_LATENCY_MS (default 0)
            command += ["--latency-ms", str(self.latency_ms)]
        self._process = subprocess.Popen(
            command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True, env=_child_env()
        )
        atexit.register(self.stop)
        try:
            self.url = self._read_url()
            self.port = int(self.url.rsplit(":", 1)[1])
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()

    def env(self) -> dict[str, str]:
        """Environment pointing the gateway's three providers at this fake (SDK conventions)."""
        return {
            "OPENAI_BASE_URL": f"{self.url}/openai/v1",
            "ANTHROPIC_BASE_URL": f"{self.url}/anthropic",
            "GEMINI_BASE_URL": f"{self.url}/gemini",
            "OPENAI_API_KEY": DUMMY_KEY,
            "ANTHROPIC_API_KEY": DUMMY_KEY,
            "GEMINI_API_KEY": DUMMY_KEY,
        }

    def requests(self) -> dict[str, Any]:
        """GET /_fake/requests: counts per provider and tag, disconnects, last bodies and headers."""
        with _OPENER.open(f"{self.url}/_fake/requests", timeout=5) as response:
            return json.load(response)

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/_fake/reset", method="POST", data=b"")
        _OPENER.open(request, timeout=5).close()

    def tag_count(self, tag: str) -> int:
        return self.requests()["tags"].get(tag, 0)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def _read_url(self) -> str:
        # The server prints one line once it is bound; with port 0 that line names the port.
        assert self._process is not None and self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], self.startup_timeout)
        line = self._process.stdout.readline() if ready else ""
        if not line.startswith(_READY_PREFIX):
            code = self._process.poll()
            raise RuntimeError(f"fake upstream failed to start (exit code {code}): {line!r}")
        return line[len(_READY_PREFIX):].strip()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                with _OPENER.open(f"{self.url}/_fake/health", timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The fake needs only its own package; a test's Django settings must not leak into it.
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env

"""Helpers for the stats, metrics and reload tests."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from tests.conftest import needs_redis
from tests.gateway_server import GatewayServer


@pytest.fixture
def empty_usage_buffer(runtime):
    """Records buffered in this process by earlier tests must not land in this test's figures
    (each test has a runtime, and so a usage buffer, of its own)."""
    yield


@pytest.fixture(scope="module")
def stats_gateway(fake_upstream, django_db_setup, django_db_blocker):
    """A gateway of this module's own, so its counters hold this module's traffic only."""
    needs_redis()
    with django_db_blocker.unblock(), GatewayServer(fake_upstream.env()) as server:
        yield server


def http_client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30, trust_env=False)


def chat(client: httpx.Client, key: str, *, model: str = "gpt-4o", stream: bool = False, text: str = "") -> httpx.Response:
    """A chat request no cache can answer (Cache-Control: no-cache), usage included."""
    body = {"model": model, "messages": [{"role": "user", "content": text or f"Say hi {uuid.uuid4().hex}"}], "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return client.post("/v1/chat/completions", json=body, headers={"X-API-Key": key, "Cache-Control": "no-cache"})


def stream_usage(response: httpx.Response) -> dict:
    import json

    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ") and line != "data: [DONE]"]
    return json.loads(events[-1])["usage"]


def poll(fetch, until, *, timeout: float = 15.0, every: float = 0.2):
    """Calls fetch() until until(result) holds or the deadline passes; returns the last result."""
    deadline = time.monotonic() + timeout
    result = fetch()
    while not until(result) and time.monotonic() < deadline:
        time.sleep(every)
        result = fetch()
    return result

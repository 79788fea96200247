"""Named fixtures shared by the whole suite (STYLE.md: personas, not factories)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from apps.keys.services import key_create, key_revoke
from gateway_site.embedded_redis import configured_redis_url
from tests.fakes.runner import FakeUpstream

REQUIRE_SERVICES = os.environ.get("GATEWAY_REQUIRE_SERVICES") == "1"
NO_DATABASE = "postgresql://nobody@127.0.0.1:9/none"  # the embedding service opens no database


def needs_redis() -> str:
    """The REDIS_URL, or skip (fail under GATEWAY_REQUIRE_SERVICES=1) with the reason. Unset,
    the session has started an embedded Redis (tests/redis_session.py), so this skips only
    when Redis was turned off with REDIS_URL=none."""
    url = configured_redis_url()
    if not url:
        message = "REDIS_URL=none; this test needs a real Redis"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (GATEWAY_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return url


@pytest.fixture
def redis_url() -> str:
    return needs_redis()


@pytest.fixture(autouse=True)
def runtime():
    """A fresh per-process runtime (gateway_site/runtime.py) for every test: key cache,
    breakers, connections and the other process-level memories never leak between tests.
    A test reads or seeds a part with `runtime.part(Class)`."""
    from gateway_site import runtime as runtime_module

    fresh = runtime_module.Runtime()
    runtime_module.install(fresh)
    yield fresh
    runtime_module.install(runtime_module.Runtime())  # the test's loops are gone: drop, don't close


@pytest.fixture
def user_key(db) -> str:
    _, raw = key_create(name="alice")
    return raw


@pytest.fixture
def admin_key(db) -> str:
    _, raw = key_create(name="ops-admin", is_admin=True)
    return raw


@pytest.fixture
def revoked_key(db) -> str:
    api_key, raw = key_create(name="mallory")
    key_revoke(api_key=api_key)
    return raw


@pytest.fixture
def expired_key(db) -> str:
    api_key, raw = key_create(name="bob-expired", expires_in_days=1)
    api_key.expires_at = timezone.now() - dt.timedelta(seconds=1)
    api_key.save()
    return raw


@pytest.fixture(scope="session", autouse=True)
def embedding_service(tmp_path_factory):
    """The session's embedding service (`manage.py embedder` on a private socket), started at
    once and not waited for: tests that need vectors wait with semantic.wait_for_embedder().
    Served gateways inherit its address through the environment."""
    from django.conf import settings

    url = f"unix://{tmp_path_factory.mktemp('embedder') / 'embedder.sock'}"
    log = open(tmp_path_factory.getbasetemp() / "embedder.log", "w")
    process = subprocess.Popen([sys.executable, "manage.py", "embedder", "--url", url],
                               cwd=Path(__file__).resolve().parents[1], stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "DATABASE_URL": NO_DATABASE, "REDIS_URL": "none"})
    previous = settings.GATEWAY_EMBEDDER_URL, settings.GATEWAY_SEMANTIC_LOOKUP_BUDGET
    os.environ["GATEWAY_EMBEDDER_URL"] = settings.GATEWAY_EMBEDDER_URL = url
    # Several suites share two cores: a lookup must not be skipped because the machine is
    # busy (the overload tests set their own budgets).
    os.environ["GATEWAY_SEMANTIC_LOOKUP_BUDGET_MS"] = "2000"
    settings.GATEWAY_SEMANTIC_LOOKUP_BUDGET = 2.0
    yield url
    settings.GATEWAY_EMBEDDER_URL, settings.GATEWAY_SEMANTIC_LOOKUP_BUDGET = previous
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture(scope="module")
def gateway(fake_upstream, django_db_setup, django_db_blocker):
    """The real ASGI app under uvicorn, one per test module, providers pointed at the fake
    upstream (tests/cache has a session-wide one of its own, with its own config)."""
    from tests.gateway_server import GatewayServer

    with django_db_blocker.unblock(), GatewayServer(fake_upstream.env()) as server:
        yield server


@pytest.fixture(scope="session")
def fake_upstream():
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="session", autouse=True)
def _providers_point_at_fake(fake_upstream):
    """In-process code (AsyncClient tests) talks to the fake like the served app does."""
    from gateway_site import gateway_config

    os.environ.update(fake_upstream.env())
    gateway_config.set_config(None)
    yield
    gateway_config.set_config(None)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Async code reads the database from worker threads with their own connections;
    end those so the test database can be dropped."""
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def api():
    """The ASGI application in process (see tests/asgi_client.py)."""
    from tests.asgi_client import AsgiClient

    return AsgiClient()


@pytest.fixture
def disposable_redis():
    """A Redis of the test's own, to stop and restart under running code."""
    from tests.services import DisposableRedis

    server = DisposableRedis().start()
    yield server
    server.stop()

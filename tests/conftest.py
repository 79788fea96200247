"""Named fixtures shared by the whole suite (STYLE.md: personas, not factories)."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.utils import timezone

from apps.keys.services import key_create, key_revoke
from gateway_site.embedded_redis import configured_redis_url
from tests.fakes.runner import FakeUpstream

REQUIRE_SERVICES = os.environ.get("GATEWAY_REQUIRE_SERVICES") == "1"


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

import httpx
import pytest

from tests.conftest import needs_redis
from tests.gateway_server import GatewayServer


@pytest.fixture
def events_in_process(settings):
    """Key events delivered in this process only (no Redis): no listener starting up
    (it says "resync") and no echo of a key's creation may change the key cache at a
    moment of its own choosing. Delivery over Redis is tested with a served gateway."""
    settings.REDIS_URL = ""


@pytest.fixture(scope="module")
def gateway(gateway):
    """The served gateway of tests/conftest.py; these tests need Redis behind it."""
    needs_redis()
    return gateway


@pytest.fixture
def http(gateway):
    with httpx.Client(base_url=gateway.url, timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def two_gateways(fake_upstream, django_db_setup, django_db_blocker):
    """Two gateway processes on one database and one Redis."""
    needs_redis()
    env = fake_upstream.env()
    with django_db_blocker.unblock(), GatewayServer(env) as first, GatewayServer(env) as second:
        yield first, second

import pytest


@pytest.fixture
def events_in_process(settings):
    """Key events delivered in this process only (no Redis): no listener starting up
    (it says "resync") and no echo of a key's creation may change the key cache at a
    moment of its own choosing. Delivery over Redis is tested with a served gateway."""
    settings.REDIS_URL = ""

"""The database unreachable: keys seen before keep working from memory, within a bound;
any other key is answered 503 with Retry-After, never 500."""

import pytest
from django.test import override_settings

from apps.keys.registry import KeyCache, key_hash, key_invalidate, key_lookup
from apps.keys.services import key_create
from apps.stats import metrics
from gateway_site.errors import ServiceUnavailable
from gateway_site.runtime import part
from tests.services import unreachable_database

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("events_in_process")]


@pytest.fixture
def seen_key() -> str:
    """A key looked up once (so in memory), whose in-memory copy is already past its TTL."""
    _, raw = key_create(name="alice")
    key_lookup(raw)
    return raw


def database_errors() -> float:
    return metrics.DEPENDENCY_ERRORS.labels("database")._value.get()


@override_settings(GATEWAY_KEY_CACHE_TTL=0)
def test_it_serves_a_key_seen_before_from_memory_while_the_database_is_unreachable(seen_key):
    with unreachable_database():
        assert [key_lookup(seen_key).name for _ in range(3)] == ["alice"] * 3


@override_settings(GATEWAY_KEY_CACHE_TTL=0)
def test_it_answers_503_with_retry_after_to_a_key_it_has_not_seen(seen_key):
    _, unseen = key_create(name="bob")
    with unreachable_database(), pytest.raises(ServiceUnavailable) as refused:
        key_lookup(unseen)
    assert refused.value.status == 503 and refused.value.code == "service_unavailable"
    assert int(refused.value.headers["Retry-After"]) > 0


@override_settings(GATEWAY_KEY_CACHE_TTL=0, GATEWAY_KEY_MAX_STALENESS=0)
def test_it_stops_serving_a_copy_older_than_the_staleness_bound(seen_key):
    with unreachable_database(), pytest.raises(ServiceUnavailable):
        key_lookup(seen_key)


@override_settings(GATEWAY_KEY_CACHE_TTL=0)
def test_it_honours_a_revocation_event_while_the_database_is_unreachable(seen_key):
    with unreachable_database():
        key_lookup(seen_key)
        key_invalidate(key_hash_value=key_hash(seen_key))  # what every process hears over Redis
        with pytest.raises(ServiceUnavailable):
            key_lookup(seen_key)


@override_settings(GATEWAY_KEY_CACHE_TTL=0)
def test_it_counts_a_failed_lookup_in_the_dependency_metric(seen_key):
    before = database_errors()
    with unreachable_database():
        key_lookup(seen_key)
    assert database_errors() == before + 1


@override_settings(GATEWAY_KEY_CACHE_TTL=0)
def test_it_stops_querying_a_database_that_just_failed(seen_key):
    before = database_errors()
    with unreachable_database():
        for _ in range(20):
            key_lookup(seen_key)  # the first fails and pauses lookups for a moment
    assert database_errors() == before + 1  # every attempt that fails is counted


@override_settings(GATEWAY_KEY_CACHE_TTL=0)
def test_it_uses_the_database_again_once_it_answers(seen_key):
    with unreachable_database():
        key_lookup(seen_key)
    part(KeyCache).database_paused_until = 0  # as if the pause had run out
    assert key_lookup(seen_key).name == "alice"
    assert not part(KeyCache).database_is_paused()


@override_settings(GATEWAY_KEY_CACHE_TTL=3600)
def test_it_keeps_serving_from_memory_after_missing_events(seen_key, django_assert_num_queries):
    from gateway_site import events

    events.publish({"type": "resync"})  # what the listener says when it reconnects to Redis
    with unreachable_database():
        assert key_lookup(seen_key).name == "alice"
    part(KeyCache).database_paused_until = 0  # as if the pause had run out
    with django_assert_num_queries(1):
        key_lookup(seen_key)  # read again, once, now that the database answers

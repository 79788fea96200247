"""Made-up keys: each distinct one costs at most one query per GATEWAY_KEY_NEGATIVE_TTL,
in bounded memory, and a key created a moment after it was refused works at once."""

import pytest

from apps.keys.registry import MAX_ABSENT_HASHES, KeyCache, key_hash, key_lookup
from apps.keys.services import key_create
from gateway_site.errors import InvalidApiKey
from gateway_site.runtime import part

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("events_in_process")]


def refused(raw_key: str) -> bool:
    try:
        key_lookup(raw_key)
    except InvalidApiKey:
        return True
    return False


def test_it_queries_the_database_once_for_a_repeated_unknown_key(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert all(refused("pgw-made-up-by-a-scanner") for _ in range(50))


def test_it_queries_once_per_distinct_unknown_key(django_assert_num_queries):
    with django_assert_num_queries(3):
        for _ in range(10):
            for raw_key in ("pgw-guess-1", "pgw-guess-2", "pgw-guess-3"):
                assert refused(raw_key)


def test_it_accepts_a_key_created_just_after_it_was_refused(monkeypatch):
    from apps.keys import services

    # The key's value is fixed in advance, so a client can try it before it exists.
    monkeypatch.setattr(services, "key_generate", lambda: "pgw-chosen-before-it-existed")
    assert refused("pgw-chosen-before-it-existed")
    key_create(name="carol")  # publishes key_changed on commit, which every process hears
    assert key_lookup("pgw-chosen-before-it-existed").name == "carol"


def test_it_keeps_a_bounded_number_of_absent_hashes():
    cache = part(KeyCache)
    for number in range(MAX_ABSENT_HASHES + 100):
        cache.remember(key_hash(f"pgw-guess-{number}"), None, generation=cache.generation)
    assert len(cache.absent) == MAX_ABSENT_HASHES
    assert cache.is_absent(key_hash(f"pgw-guess-{MAX_ABSENT_HASHES + 99}"))
    assert not cache.is_absent(key_hash("pgw-guess-0"))  # the oldest went first

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from apps.keys.models import ApiKey
from apps.keys.registry import KeyCache, key_lookup
from apps.keys.services import key_create, key_revoke
from gateway_site.errors import InvalidApiKey
from gateway_site.runtime import part

pytestmark = pytest.mark.django_db


def test_it_stores_only_a_hash_and_a_display_prefix():
    api_key, raw = key_create(name="alice")
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert raw.startswith("pgw-") and len(raw) >= 4 + 43  # 32 random bytes, base64url
    assert stored.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert stored.prefix == raw[:12]
    row_text = " ".join(str(value) for value in ApiKey.objects.filter(pk=api_key.pk).values().first().values())
    assert raw not in row_text


def test_it_generates_different_keys_each_time():
    raws = {key_create(name=f"k{i}")[1] for i in range(20)}
    assert len(raws) == 20


def test_it_finds_a_key_by_its_raw_value():
    api_key, raw = key_create(name="alice", rpm=30, tpm=1000, allowed_models=["gpt-4o"])
    info = key_lookup(raw)
    assert (info.id, info.rpm, info.tpm) == (api_key.pk, 30, 1000)
    assert info.may_use_model("gpt-4o") and not info.may_use_model("gpt-4")


def test_it_refuses_unknown_and_empty_keys():
    with pytest.raises(InvalidApiKey):
        key_lookup("pgw-not-a-real-key")
    with pytest.raises(InvalidApiKey):
        key_lookup("")


def test_it_refuses_a_revoked_key_even_when_cached(django_capture_on_commit_callbacks):
    api_key, raw = key_create(name="alice")
    key_lookup(raw)  # now cached in process memory
    with django_capture_on_commit_callbacks(execute=True):
        key_revoke(api_key=api_key)
    with pytest.raises(InvalidApiKey):
        key_lookup(raw)


def test_it_refuses_an_expired_key():
    api_key, raw = key_create(name="alice", expires_in_days=1)
    assert key_lookup(raw).id == api_key.pk
    ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    part(KeyCache).clear()  # what this process remembers of the key
    with pytest.raises(InvalidApiKey):
        key_lookup(raw)


def test_it_does_not_query_the_database_for_a_key_it_has_seen(django_assert_num_queries):
    _, raw = key_create(name="alice")
    key_lookup(raw)
    with django_assert_num_queries(0):
        key_lookup(raw)

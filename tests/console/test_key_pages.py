"""A key's page: models picked from the configured ones, revoke and rotate, read-only once revoked."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.keys.models import ApiKey
from apps.keys.registry import key_lookup
from apps.keys.services import key_create

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {"name": "alice", "rpm": "", "tpm": "", "cache_namespace": "", "expires_at_0": "", "expires_at_1": ""}


def raw_key_in(page) -> str:
    return next(str(m) for m in page.context["messages"] if "pgw-" in str(m)).split(": ")[-1].strip()


def test_it_refuses_a_model_that_is_not_configured(operator):
    api_key, _ = key_create(name="alice")
    page = operator.post(f"/admin/keys/apikey/{api_key.pk}/change/", {**FORM, "allowed_models": ["gpt-4o", "gpt-9-imaginary"]})
    assert page.status_code == 200 and "gpt-9-imaginary" in page.content.decode()
    assert ApiKey.objects.get(pk=api_key.pk).allowed_models == []


def test_it_rotates_a_key_and_revokes_the_old_one(operator):
    api_key, old_raw = key_create(name="alice", rpm=7)
    page = operator.post(f"/admin/keys/apikey/{api_key.pk}/rotate/", {"grace_hours": "0"}, follow=True)
    new_raw = raw_key_in(page)
    assert key_lookup(new_raw).rpm == 7
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None


def test_it_lets_the_old_key_work_through_a_grace_period(operator):
    api_key, old_raw = key_create(name="alice")
    operator.post(f"/admin/keys/apikey/{api_key.pk}/rotate/", {"grace_hours": "2"})
    old = ApiKey.objects.get(pk=api_key.pk)
    assert old.revoked_at is None and old.is_usable()
    assert old.expires_at - timezone.now() < dt.timedelta(hours=2, minutes=1)


def test_it_shows_a_revoked_key_read_only_with_a_banner(operator):
    api_key, _ = key_create(name="alice")
    operator.post(f"/admin/keys/apikey/{api_key.pk}/revoke/")
    html = operator.get(f"/admin/keys/apikey/{api_key.pk}/change/").content.decode()
    assert 'id="revoked-banner"' in html and 'name="_save"' not in html and 'id="revoke-button"' not in html


def test_it_filters_keys_by_status(operator):
    key_create(name="still-active")
    revoked, _ = key_create(name="gone")
    operator.post(f"/admin/keys/apikey/{revoked.pk}/revoke/")
    html = operator.get("/admin/keys/apikey/?status=revoked").content.decode()
    assert "gone" in html and "still-active" not in html

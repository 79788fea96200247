import io

import pytest
from django.core.management import CommandError, call_command

from apps.keys.models import ApiKey
from apps.keys.registry import key_lookup

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_it_prints_the_raw_key_alone_on_the_last_line():
    output = run("create_api_key", "ci-bot", "--admin", "--rpm", "60", "--tpm", "5000", "--expires", "7")
    raw = output.strip().splitlines()[-1]
    info = key_lookup(raw)
    assert info.is_admin and info.rpm == 60 and info.tpm == 5000 and info.expires_at is not None


def test_it_lists_keys_by_prefix_without_raw_values():
    raw = run("create_api_key", "alice").strip().splitlines()[-1]
    listing = run("list_api_keys")
    assert raw[:12] in listing and raw not in listing and "alice" in listing


def test_it_revokes_by_prefix():
    raw = run("create_api_key", "alice").strip().splitlines()[-1]
    run("revoke_api_key", raw[:12])
    assert ApiKey.objects.get(prefix=raw[:12]).revoked_at is not None


def test_it_refuses_an_unknown_prefix():
    with pytest.raises(CommandError):
        run("revoke_api_key", "pgw-nope")


def test_it_creates_a_first_admin_key_only_once():
    first = run("ensure_admin_key").strip().splitlines()[-1]
    assert key_lookup(first).is_admin
    second = run("ensure_admin_key")
    assert "already exists" in second

"""Stored responses live GATEWAY_RESPONSES_RETENTION_DAYS: expired ones are never read,
and are pruned."""

import asyncio
import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.keys.services import key_create
from apps.responses.models import StoredResponse
from apps.responses.store import ResponseStore, aresponse_conversation, response_store
from gateway_site import runtime

pytestmark = pytest.mark.django_db(transaction=True)


def stored(key, response_id: str, *, age_days: float) -> StoredResponse:
    created = timezone.now() - dt.timedelta(days=age_days)
    return StoredResponse.objects.create(
        id=response_id, api_key=key, model="gpt-4o", input_items=[{"role": "user", "content": "hi"}],
        output_items=[], created_at=created, expires_at=created + dt.timedelta(days=30),
    )


def conversation(response_id: str, key_id: int):
    return asyncio.run(aresponse_conversation(response_id=response_id, key_id=key_id))


def test_it_reads_a_live_response_only_for_its_own_key():
    alice, _ = key_create(name="alice")
    eve, _ = key_create(name="eve")
    stored(alice, "resp_live", age_days=29)
    assert conversation("resp_live", alice.id).items == [{"role": "user", "content": "hi"}]
    assert conversation("resp_live", eve.id) is None


def test_it_ignores_and_prunes_expired_responses(capsys):
    alice, _ = key_create(name="alice")
    stored(alice, "resp_old", age_days=31)
    stored(alice, "resp_new", age_days=1)
    assert conversation("resp_old", alice.id) is None
    call_command("prune_responses")
    assert "Deleted 1 expired" in capsys.readouterr().out
    assert list(StoredResponse.objects.values_list("id", flat=True)) == ["resp_new"]


def test_it_keeps_nothing_when_retention_is_zero(settings):
    settings.GATEWAY_RESPONSES_RETENTION_DAYS = 0
    response_store(response_id="resp_x", key_id=1, model="gpt-4o", input_items=[], output_items=[])
    assert not runtime.part(ResponseStore).buffer


def test_it_writes_buffered_responses_in_one_batch():
    alice, _ = key_create(name="alice")

    async def store_two() -> None:
        for name in ("resp_a", "resp_b"):
            response_store(response_id=name, key_id=alice.id, model="gpt-4o", input_items=[], output_items=[])
        assert (await aresponse_conversation(response_id="resp_a", key_id=alice.id)) is not None  # read from the buffer
        await runtime.part(ResponseStore).aclose()

    asyncio.run(store_two())
    assert sorted(StoredResponse.objects.values_list("id", flat=True)) == ["resp_a", "resp_b"]

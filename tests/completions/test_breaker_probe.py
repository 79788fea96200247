"""A half-open breaker's probe resolves it however the probe ends: an upstream 400, a
client that left, or an exception nobody expected. Before, such a probe was never
recorded and the provider stayed out until the process restarted."""

import asyncio
import time
import uuid

import httpx
import pytest

from apps.completions.providers import base
from gateway_site.runtime import part
from tests.completions.conftest import chat_body

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fragile_health(api, user_key):
    def health() -> str:
        return api.get("/health", headers={"X-API-Key": user_key}).json()["services"]["providers"]["fragile"]

    return health


@pytest.fixture
def probing(chat, fragile_health):
    """The primary model's provider ("fragile") opened, and its cool-down over: the next
    request to it is the probe."""
    opening = chat("hello fake:status=500")
    assert opening.status_code == 502, opening.text  # its fallback fails too
    assert fragile_health() == "unavailable"
    time.sleep(0.15)  # the cool-down


def assert_primary_answers(chat) -> None:
    answer = chat("hello again")
    assert answer.status_code == 200, answer.text
    assert "X-Gateway-Fallback-Model" not in answer.headers  # not skipped to "backup"
    assert "fake answer from openai" in answer.json()["choices"][0]["message"]["content"]


def test_it_closes_the_breaker_when_the_probe_is_refused_with_a_400(chat, probing, fragile_health):
    refused = chat("probe fake:status=400")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_request"
    assert fragile_health() == "available"  # the provider answered: it is up
    assert_primary_answers(chat)


def test_it_probes_again_when_the_client_leaves_during_the_probe(chat, probing, user_key, fake_upstream):
    from gateway_site.asgi import application

    tag = uuid.uuid4().hex[:12]

    async def leave_while_the_probe_waits() -> None:
        transport = httpx.ASGITransport(app=application)
        headers = {"Authorization": f"Bearer {user_key}", "Cache-Control": "no-store"}
        body = chat_body(f"probe fake:delay=5 fake:tag={tag}", model="primary", stream=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=30) as client:
            request = asyncio.ensure_future(client.post("/v1/chat/completions", json=body, headers=headers))
            for _ in range(1000):  # until the probe has reached the upstream
                if request.done() or await asyncio.to_thread(fake_upstream.tag_count, tag):
                    break
                await asyncio.sleep(0.01)
            assert not request.done(), "the probe ended before the client could leave"
            request.cancel()
            with pytest.raises(asyncio.CancelledError):
                await request
        await part(base.UpstreamSession).aclose()

    asyncio.run(leave_while_the_probe_waits())
    assert_primary_answers(chat)


@pytest.mark.parametrize(("call", "stream"), [("send", False), ("open_stream", True)])
def test_it_probes_again_after_a_probe_that_raised_an_unexpected_exception(chat, probing, monkeypatch, call, stream):
    async def broken(*args, **kwargs):
        raise RuntimeError("a bug of the gateway's own")

    with monkeypatch.context() as patched:
        patched.setattr(base, call, broken)
        failed = chat("probe", stream=stream)
    assert failed.status_code == 500 and failed.json()["error"]["code"] == "internal_error"
    assert_primary_answers(chat)

"""Only complete, successful answers are cached: upstream errors, cut streams and streams
the client walked away from never are, and a streamed answer that completed is."""

import uuid

import httpx
import pytest

from tests.cache.served import post, sdk, stored, unique, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def ask(text: str, **fields) -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **fields}


def settle(gateway, raw_key: str, namespace: str) -> None:
    """Waits until a later, successful request has been stored: writes scheduled before it
    (there should be none for failures) have had their turn."""
    control = ask(unique("control question"))
    assert post(gateway, raw_key, control).status_code == 200
    wait_until(lambda: stored(control, namespace))


def test_it_does_not_cache_an_upstream_error(gateway, key_for, namespace, fake_upstream):
    raw_key = key_for(namespace)
    tag = f"err-{uuid.uuid4().hex[:8]}"
    payload = ask(f"{unique('Hello')} fake:status=500 fake:tag={tag}")
    assert post(gateway, raw_key, payload).status_code == 502
    settle(gateway, raw_key, namespace)
    assert not stored(payload, namespace)
    second = post(gateway, raw_key, payload)
    assert second.status_code == 502 and second.headers.get("X-Cache") != "HIT-EXACT"
    assert fake_upstream.tag_count(tag) == 2


def test_it_does_not_cache_a_cut_stream(gateway, key_for, namespace):
    raw_key = key_for(namespace)
    payload = ask(f"{unique('Tell me a story')} fake:cut=3", stream=True)
    response = post(gateway, raw_key, payload)
    assert response.status_code == 200 and b'"error"' in response.content
    settle(gateway, raw_key, namespace)
    assert not stored(payload, namespace)


def test_it_does_not_cache_a_stream_the_client_left(gateway, key_for, namespace, fake_upstream):
    raw_key = key_for(namespace)
    tag = f"left-{uuid.uuid4().hex[:8]}"
    payload = ask(f"Tell me a long story fake:words=40 fake:slow_stream=0.05 fake:tag={tag}", stream=True)
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=payload, timeout=30,
                      headers={"Authorization": f"Bearer {raw_key}"}) as response:
        next(response.iter_bytes())  # the first chunk, then hang up
    settle(gateway, raw_key, namespace)
    wait_until(lambda: fake_upstream.requests()["tag_disconnects"].get(tag))
    assert not stored(payload, namespace)


def test_it_caches_a_stream_that_completed(gateway, key_for, namespace):
    client = sdk(gateway, key_for(namespace))
    messages = [{"role": "user", "content": unique("Stream me an answer")}]
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="gpt-4o", messages=messages, stream=True) if c.choices)
    wait_until(lambda: stored({"model": "gpt-4o", "messages": messages}, namespace))
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=messages)
    assert raw.headers["X-Cache"] == "HIT-EXACT"
    assert raw.parse().choices[0].message.content == streamed

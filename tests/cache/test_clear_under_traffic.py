"""Both caches can be cleared while traffic flows, without a single failed request."""

import threading
import time
import uuid

import httpx
import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_clears_both_caches_while_requests_flow(gateway, key_for):
    user, admin = key_for(f"traffic-{uuid.uuid4().hex[:8]}"), key_for(admin=True)
    prompts = ["What is the capital of Norway?", "what's the capital of Norway", "Name three primes"]
    statuses: list[int] = []
    stop = threading.Event()

    def send_traffic() -> None:
        with httpx.Client(base_url=gateway.url, timeout=60) as client:
            index = 0
            while not stop.is_set() or index < 30:
                body = {"model": "gpt-4o", "temperature": 0, "stream": index % 3 == 0,
                        "messages": [{"role": "user", "content": prompts[index % len(prompts)]}]}
                statuses.append(client.post("/v1/chat/completions", json=body, headers={"X-API-Key": user}).status_code)
                index += 1

    senders = [threading.Thread(target=send_traffic) for _ in range(3)]
    for sender in senders:
        sender.start()
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        clears = [client.post("/admin/cache/clear", headers={"X-API-Key": admin}) for _ in range(5)]
    stop.set()
    for sender in senders:
        sender.join()
    assert [response.status_code for response in clears] == [200] * 5
    assert all(response.json()["status"] == "success" for response in clears)
    assert len(statuses) >= 90 and set(statuses) == {200}
    wait_for_background_writes()


def wait_for_background_writes() -> None:
    """The server writes usage records and semantic entries after answering; let it finish
    before the test database is truncated under it (bounded)."""
    from apps.cache.models import SemanticCacheEntry
    from apps.stats.models import UsageRecord

    counts, deadline = None, time.monotonic() + 15
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = (UsageRecord.objects.count(), SemanticCacheEntry.objects.count())
        if now == counts:
            return
        counts = now

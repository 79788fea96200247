"""Real traffic through a running gateway: /stats adds up to exactly what was sent."""

import datetime as dt

import pytest

from apps.keys.services import key_create
from tests.stats.conftest import chat, http_client, poll, stream_usage

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_reports_exactly_the_traffic_sent(stats_gateway, admin_key):
    started = dt.datetime.now(dt.timezone.utc).isoformat()  # earlier tests' records stay out
    _, user = key_create(name="mike", rpm=5)
    with http_client(stats_gateway.url) as client:
        answers = [chat(client, user) for _ in range(3)]
        streamed = chat(client, user, model="gemini-2.5-flash", stream=True)
        extra = [chat(client, user) for _ in range(3)]  # the 5th is allowed, then 2 refused
        body = poll(lambda: client.get("/stats", params={"since": started}, headers={"X-API-Key": admin_key}).json(),
                    lambda figures: figures["total_requests"] >= 7)

    assert [r.status_code for r in answers + [streamed] + extra] == [200] * 5 + [429] * 2
    openai_tokens = sum(r.json()["usage"]["total_tokens"] for r in answers + extra[:1])
    assert body["total_requests"] == 7
    assert body["rate_limit_stats"]["requests_throttled"] == 2
    assert body["provider_stats"]["openai"]["requests"] == 4
    assert body["provider_stats"]["openai"]["tokens"] == openai_tokens
    assert body["provider_stats"]["google"]["requests"] == 1
    assert body["provider_stats"]["google"]["tokens"] == stream_usage(streamed)["total_tokens"]
    assert body["provider_stats"]["openai"]["avg_latency"] > 0
    assert body["cache_stats"]["exact_cache"] == {"hits": 0, "misses": 5, "hit_rate": 0.0}
    assert body["rate_limit_stats"]["top_users"] == [{"api_key": user[:12] + "…", "requests": 7, "throttled": 2}]

"""After real traffic through the fake upstream, /metrics counts it with the contract's
families and labels, and no API key appears anywhere in it."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.keys.services import key_create
from tests.stats.conftest import chat, http_client, stream_usage

pytestmark = pytest.mark.django_db(transaction=True)

FAMILIES = (
    "gateway_requests", "gateway_request_duration_seconds", "gateway_cache_hits", "gateway_cache_misses",
    "gateway_tokens_used", "gateway_cost_usd", "gateway_rate_limit_rejections", "gateway_rate_limit_fail_open",
    "gateway_upstream_latency_seconds", "gateway_upstream_errors", "gateway_time_to_first_token_seconds",
    "gateway_retries", "gateway_fallbacks", "gateway_circuit_breaker_open",
)


def samples(text: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_it_counts_traffic_with_the_contract_labels_and_no_keys(stats_gateway, admin_key):
    api_key, user = key_create(name="erin", rpm=4)
    with http_client(stats_gateway.url) as client:
        answers = [chat(client, user) for _ in range(2)]
        streamed = chat(client, user, model="claude-sonnet-4-20250514", stream=True)
        refused = [chat(client, user) for _ in range(2)]  # the 4th is the last one allowed
        client.get("/v1/models", headers={"X-API-Key": user})
        client.get("/v1/no-such-thing/42", headers={"X-API-Key": user})
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {admin_key}"})

    assert [r.status_code for r in answers + [streamed]] == [200, 200, 200]
    assert [r.status_code for r in refused] == [200, 429]
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    found = samples(text)

    chat_endpoint = "/v1/chat/completions"
    assert value(found, "gateway_requests_total", method="POST", endpoint=chat_endpoint, status="200") == 4
    assert value(found, "gateway_requests_total", method="POST", endpoint=chat_endpoint, status="429") == 1
    assert value(found, "gateway_requests_total", method="GET", endpoint="/v1/models", status="200") == 1
    assert value(found, "gateway_requests_total", method="GET", endpoint="unmatched", status="404") == 1
    assert value(found, "gateway_request_duration_seconds_count", endpoint=chat_endpoint) == 5
    assert value(found, "gateway_request_duration_seconds_bucket", endpoint=chat_endpoint, le="+Inf") == 5
    assert value(found, "gateway_rate_limit_rejections_total", limit="requests") == 1
    assert ("gateway_cache_hits_total", (("cache_type", "exact"),)) in found
    assert ("gateway_cache_hits_total", (("cache_type", "semantic"),)) in found

    openai_usage = [answer.json()["usage"] for answer in answers + [refused[0]]]
    for kind in ("prompt", "completion"):
        expected = sum(usage[f"{kind}_tokens"] for usage in openai_usage)
        assert value(found, "gateway_tokens_used_total", provider="openai", model="gpt-4o", type=kind) == expected
    anthropic = stream_usage(streamed)
    assert value(found, "gateway_tokens_used_total", provider="anthropic", model="claude-sonnet-4-20250514",
                 type="completion") == anthropic["completion_tokens"]
    assert value(found, "gateway_upstream_latency_seconds_count", provider="openai") == 3
    assert value(found, "gateway_time_to_first_token_seconds_count", provider="anthropic") == 1

    names = {family.name for family in text_string_to_metric_families(text)}
    assert set(FAMILIES) <= names
    for secret in (user, admin_key):
        assert secret not in text and secret[:12] not in text
    assert api_key.key_hash[:16] not in text

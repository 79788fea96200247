"""Two gateway processes on one Redis enforce one limit, exactly."""

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from apps.keys.services import key_create
from tests.keys.test_limiter_helpers import send

pytestmark = pytest.mark.django_db(transaction=True)


def stats(url: str, admin_key: str, since: str) -> dict:
    with httpx.Client(timeout=30, trust_env=False) as client:
        return client.get(f"{url}/stats", params={"since": since}, headers={"X-API-Key": admin_key}).json()


def test_it_shares_one_limit_across_processes(two_gateways, admin_key):
    started = dt.datetime.now(dt.timezone.utc).isoformat()  # earlier tests' records stay out
    _, key = key_create(name="dave", rpm=10)
    urls = [gateway.url for gateway in two_gateways] * 15  # 30 requests, alternating
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda url: send(url, key), urls))

    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == 10 and statuses.count(429) == 20
    refused = [response for response in responses if response.status_code == 429]
    assert all(int(response.headers["Retry-After"]) >= 1 for response in refused)
    assert all(response.json()["error"]["code"] == "rate_limit_exceeded" for response in refused)

    # /stats of either process counts every process's requests (records flush within ~1 s).
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        figures = stats(two_gateways[1].url, admin_key, started)
        if figures["total_requests"] >= 30:
            break
        time.sleep(0.2)
    assert figures["total_requests"] == 30
    assert figures["rate_limit_stats"]["requests_throttled"] == 20
    assert figures["rate_limit_stats"]["top_users"][0]["requests"] == 30
    assert figures["rate_limit_stats"]["top_users"][0]["throttled"] == 20

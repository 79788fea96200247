"""Two gateway processes on one Redis enforce one budget, exactly: a budget of N requests'
cost admits N of 3N sent at once, however they are spread."""

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from apps.keys.budgets import COST_UNITS_PER_USD, units
from apps.keys.services import key_create
from apps.stats.models import UsageRecord
from tests.keys.test_limiter_helpers import send

pytestmark = pytest.mark.django_db(transaction=True)

N = 5


def one_request_cost(url: str) -> Decimal:
    """What one request of chat_body()'s shape costs; a budgeted key's answer also teaches
    the gateway the model's cost, as any earlier traffic would have."""
    api_key, key = key_create(name="scout", budget_usd=Decimal("10"))
    assert send(url, key).status_code == 200
    deadline = time.monotonic() + 15
    while not (record := UsageRecord.objects.filter(api_key_id=api_key.pk).first()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return record.cost_usd


def test_it_admits_exactly_the_budget_across_processes(two_gateways):
    cost = one_request_cost(two_gateways[0].url)
    assert units(cost) > 0
    _, key = key_create(name="mia", budget_usd=Decimal(units(cost) * N) / COST_UNITS_PER_USD, budget_period="day")
    urls = [gateway.url for gateway in two_gateways] * (3 * N // 2 + 1)  # 3N and more, alternating

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda url: send(url, key), urls))

    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == N
    assert statuses.count(429) == len(urls) - N
    assert {response.json()["error"]["code"] for response in responses if response.status_code == 429} == {
        "budget_exceeded"
    }


"""Three gateway processes behind nginx, sharing one Redis and one PostgreSQL, act as one
gateway: one rate limit, one budget, one exact cache, one semantic cache, one /stats, a
config reload that reaches all three, and a rolling restart that fails no request and
loses no usage record."""

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
import yaml

from apps.keys.budgets import COST_UNITS_PER_USD, units
from apps.keys.services import key_create
from apps.stats.models import UsageRecord
from gateway_site import gateway_config
from tests.conftest import REQUIRE_SERVICES, needs_redis
from tests.gateway_server import GatewayServer
from tests.nginx import Nginx, nginx_available
from tests.stats.conftest import poll

pytestmark = pytest.mark.django_db(transaction=True)

SEMANTIC_MODEL = "gpt-4o-semantic"  # the exact cache is off for it: a repeat is a semantic hit or nothing


@pytest.fixture(scope="module")
def config_path(tmp_path_factory):
    data = yaml.safe_load(open(gateway_config.config_path()))
    data["rate_limits"]["requests_per_minute"] = 100000  # keys that should be limited say so
    data["models"][SEMANTIC_MODEL] = {"provider": "openai", "upstream_model": "gpt-4o"}
    data["cache"]["models"] = {SEMANTIC_MODEL: {"exact": False}}
    path = tmp_path_factory.mktemp("nginx-config") / "gateway.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def cluster(fake_upstream, config_path, tmp_path_factory, django_db_setup, django_db_blocker):
    """nginx on a free loopback port in front of three gateways."""
    needs_redis()
    if not nginx_available():
        message = "nginx is not installed (apt-get install -y nginx; `make test` does it)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    env = {**fake_upstream.env(), "GATEWAY_CONFIG": str(config_path)}
    gateways = [GatewayServer(env) for _ in range(3)]
    with django_db_blocker.unblock(), ThreadPoolExecutor(3) as pool:
        list(pool.map(GatewayServer.start, gateways))
    nginx = Nginx([gateway.port for gateway in gateways], tmp_path_factory.mktemp("nginx")).start()
    try:
        yield nginx, gateways
    finally:
        nginx.stop()
        for gateway in gateways:
            gateway.stop()


def client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30, trust_env=False)


def ask(http: httpx.Client, key: str, text: str, *, model: str = "gpt-4o", **headers: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}], "temperature": 0}
    return http.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}", **headers})


def fresh() -> str:
    return uuid.uuid4().hex[:12]


def usage_count(key_id: int) -> int:
    return UsageRecord.objects.filter(api_key_id=key_id).count()


def test_it_keeps_one_rate_limit(cluster):
    nginx, _ = cluster
    _, key = key_create(name="rita", rpm=10)
    with client(nginx.url) as http, ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: ask(http, key, f"hi {fresh()}", **{"Cache-Control": "no-store"}).status_code,
                                 range(30)))
    assert (statuses.count(200), statuses.count(429)) == (10, 20)


def test_it_keeps_one_budget(cluster):
    nginx, _ = cluster
    with client(nginx.url) as http:
        scout, scout_key = key_create(name="scout", budget_usd=Decimal("10"))
        assert ask(http, scout_key, "how much is this", **{"Cache-Control": "no-store"}).status_code == 200
        cost = poll(lambda: UsageRecord.objects.filter(api_key_id=scout.pk).first(), bool).cost_usd
        assert units(cost) > 0
        _, key = key_create(name="bea", budget_usd=Decimal(units(cost) * 5) / COST_UNITS_PER_USD, budget_period="day")
        with ThreadPoolExecutor(6) as pool:
            responses = list(pool.map(lambda _: ask(http, key, "how much is this", **{"Cache-Control": "no-store"}),
                                      range(15)))
    statuses = [response.status_code for response in responses]
    assert (statuses.count(200), statuses.count(429)) == (5, 10)
    assert {response.json()["error"]["code"] for response in responses if response.status_code == 429} == {"budget_exceeded"}


def test_it_keeps_one_exact_cache(cluster):
    nginx, gateways = cluster
    _, key = key_create(name="ezra")
    question = f"What is exact caching? {fresh()}"
    with client(gateways[0].url) as first:
        assert ask(first, key, question).headers["X-Cache"] == "MISS"
        assert poll(lambda: ask(first, key, question).headers["X-Cache"], lambda seen: seen == "HIT-EXACT") == "HIT-EXACT"
    for url in [gateway.url for gateway in gateways[1:]] + [nginx.url]:
        with client(url) as http:
            assert ask(http, key, question).headers["X-Cache"] == "HIT-EXACT", url


def test_it_keeps_one_semantic_cache(cluster):
    nginx, gateways = cluster
    _, key = key_create(name="sami")
    # Each process loads its embedding model on its first lookup (~5 s) and skips the semantic
    # cache until then: warm all three with a question of their own, asked until it hits.
    for gateway in gateways:
        warm_up = f"Warm up the model, please {fresh()}"
        with client(gateway.url) as http:
            seen = poll(lambda: ask(http, key, warm_up, model=SEMANTIC_MODEL).headers["X-Cache"],
                        lambda seen: seen == "HIT-SEMANTIC", timeout=60, every=0.5)
            assert seen == "HIT-SEMANTIC", gateway.log()[-2000:]

    question = f"Explain what a semantic cache is {fresh()}"
    with client(gateways[0].url) as first:
        assert ask(first, key, question, model=SEMANTIC_MODEL).headers["X-Cache"] == "MISS"
    # Stored in the background by the first process; then any process answers from it.
    with client(nginx.url) as http:
        assert poll(lambda: ask(http, key, question, model=SEMANTIC_MODEL).headers["X-Cache"],
                    lambda seen: seen == "HIT-SEMANTIC") == "HIT-SEMANTIC"
    for gateway in gateways[1:]:
        with client(gateway.url) as http:
            assert ask(http, key, question, model=SEMANTIC_MODEL).headers["X-Cache"] == "HIT-SEMANTIC"


def test_it_keeps_one_stats(cluster, admin_key):
    nginx, gateways = cluster
    _, key = key_create(name="stan")

    def totals() -> list[int]:
        figures = []
        for gateway in gateways:
            with client(gateway.url) as http:
                figures.append(http.get("/stats", headers={"X-API-Key": admin_key}).json()["total_requests"])
        return figures

    # Quiet first: earlier tests' last records may still be on their way (flushed every 0.5 s).
    before = poll(lambda: (totals(), time.sleep(1.2), totals())[::2], lambda seen: seen[0] == seen[1] and len(set(seen[0])) == 1)[0]
    with client(nginx.url) as http:
        for _ in range(9):
            assert ask(http, key, f"count me {fresh()}", **{"Cache-Control": "no-store"}).status_code == 200
    after = poll(totals, lambda seen: seen == [before[0] + 9] * 3)
    assert after == [before[0] + 9] * 3
    with client(nginx.url) as http:
        assert http.get("/stats", headers={"X-API-Key": admin_key}).json()["total_requests"] == before[0] + 9


def test_a_reload_through_nginx_reaches_every_process(cluster, config_path, admin_key):
    nginx, gateways = cluster
    _, key = key_create(name="rolf")
    original = config_path.read_text()

    def limits() -> list[str]:
        seen = []
        for gateway in gateways:
            with client(gateway.url) as http:
                seen.append(http.get("/v1/models", headers={"X-API-Key": key}).headers["X-RateLimit-Limit"])
        return seen

    assert limits() == ["100000"] * 3
    data = yaml.safe_load(original)
    data["rate_limits"]["requests_per_minute"] = 4321
    config_path.write_text(yaml.safe_dump(data))
    try:
        with client(nginx.url) as http:
            response = http.post("/admin/reload-config", headers={"X-API-Key": admin_key})
        assert response.status_code == 200 and response.json()["status"] == "success"
        assert poll(limits, lambda seen: seen == ["4321"] * 3, timeout=10) == ["4321"] * 3
    finally:
        config_path.write_text(original)
        with client(nginx.url) as http:
            http.post("/admin/reload-config", headers={"X-API-Key": admin_key})
        poll(limits, lambda seen: seen == ["100000"] * 3, timeout=10)


def test_a_rolling_restart_fails_no_request_and_loses_no_usage_record(cluster, django_db_blocker):
    nginx, gateways = cluster
    api_key, key = key_create(name="rollo")
    answered, failures, stop = [], [], threading.Event()

    def load() -> None:
        with client(nginx.url) as http:
            while not stop.is_set():
                try:
                    response = ask(http, key, f"keep going {fresh()}", **{"Cache-Control": "no-store"})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                (answered if response.status_code == 200 else failures).append(response.status_code)

    clients = [threading.Thread(target=load) for _ in range(6)]
    for thread in clients:
        thread.start()
    try:
        with django_db_blocker.unblock():
            for gateway in gateways:  # one at a time: SIGTERM, wait for it to drain and exit, start again
                time.sleep(0.5)
                gateway.stop()
                gateway.log_path = gateway.log_path.with_suffix(".restarted.log")  # keep the stopped one's log
                gateway.start()
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=60)

    assert failures == []
    assert len(answered) > 30
    # Records of the processes still running are flushed within a second or so.
    assert poll(lambda: usage_count(api_key.pk), lambda count: count == len(answered)) == len(answered)

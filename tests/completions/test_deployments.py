"""Several deployments behind one model: two real fake upstreams play two deployments
("east" and "west", two provider entries with their own base URLs) of the same models."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import redis

from apps.completions.deployments import DeploymentState, LocalDeployments, order_deployments, redis_keys
from gateway_site import gateway_config
from gateway_site.gateway_config import ConfigError, parse_config
from tests.config_files import use_config
from tests.fakes.runner import FakeUpstream

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def east():
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def west():
    with FakeUpstream() as fake:
        yield fake


def _provider(fake: FakeUpstream) -> dict:
    return {"protocol": "openai", "base_url": f"{fake.url}/openai/v1", "api_key_env": "OPENAI_API_KEY"}


def _config(east: FakeUpstream, west: FakeUpstream, doomed: FakeUpstream | None = None) -> dict:
    both = [{"provider": "east"}, {"provider": "west"}]
    models = {
        "pooled": {"upstream_model": "gpt-4o", "deployments": [{"provider": "east", "weight": 3}, {"provider": "west"}]},
        "quota": {"upstream_model": "gpt-4o",
                  "deployments": [{"provider": "east", "weight": 1_000_000, "rpm": 3}, {"provider": "west"}]},
        "only-quota": {"upstream_model": "gpt-4o", "deployments": [{"provider": "east", "rpm": 1}, {"provider": "west", "rpm": 1}]},
        "calm": {"upstream_model": "gpt-4o", "routing": "least-busy", "deployments": both},
        "quick": {"upstream_model": "gpt-4o", "routing": "latency", "deployments": both},
        "solo": {"upstream_model": "gpt-4o", "provider": "east"},
    }
    providers = {"east": _provider(east), "west": _provider(west)}
    if doomed is not None:
        providers["doomed"] = _provider(doomed)
        models["survivor"] = {"upstream_model": "gpt-4o", "deployments": [{"provider": "doomed", "weight": 9}, {"provider": "east"}]}
    return {"providers": providers, "models": models, "rate_limits": {"requests_per_minute": 1_000_000}}


@pytest.fixture
def shared_redis(redis_url):
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("pgw:dep:*"):
        client.delete(key)
    yield client
    client.close()


@pytest.fixture
def deployments(east, west, shared_redis, tmp_path, monkeypatch):
    east.reset()
    west.reset()
    use_config(_config(east, west), tmp_path, monkeypatch)
    yield
    gateway_config.set_config(None)


@pytest.fixture
def ask(api, user_key):
    def send(model: str, content: str = "hello") -> dict:
        headers = {"Authorization": f"Bearer {user_key}", "Cache-Control": "no-store"}
        response = api.post("/v1/chat/completions", headers=headers,
                            json={"model": model, "messages": [{"role": "user", "content": content}]})
        assert response.status_code == 200, response.text
        assert "X-Gateway-Fallback-Model" not in response.headers  # a sibling deployment is no fallback
        return response.json()

    return send


async def _ask_many(user_key: str, model: str, count: int, *, at_once: int = 20) -> list[int]:
    """`count` requests on one event loop, `at_once` in flight: the statuses."""
    from apps.completions.providers.base import UpstreamSession
    from gateway_site.asgi import application
    from gateway_site.runtime import part

    headers = {"Authorization": f"Bearer {user_key}", "Cache-Control": "no-store"}
    body = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
    gate = asyncio.Semaphore(at_once)
    transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 40000))

    async def one(client: httpx.AsyncClient) -> int:
        async with gate:
            return (await client.post("/v1/chat/completions", json=body, headers=headers)).status_code

    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            return await asyncio.gather(*(one(client) for _ in range(count)))
    finally:
        await part(UpstreamSession).aclose()


def test_it_honours_the_weights_over_a_thousand_requests(deployments, user_key, east, west, settings):
    settings.REDIS_SOCKET_TIMEOUT = 0.5  # as served in tests (tests/gateway_server.py): a busy machine is no outage
    assert set(asyncio.run(_ask_many(user_key, "pooled", 1000))) == {200}
    east_share = east.requests()["total"] / 1000
    assert west.requests()["total"] + east.requests()["total"] == 1000
    assert 0.70 <= east_share <= 0.80  # 3:1; ±5 points is 3.6 standard deviations of 1,000 draws


def test_it_sends_everything_to_the_survivor_when_a_deployment_dies(east, west, shared_redis, ask, tmp_path, monkeypatch):
    doomed = FakeUpstream().start()
    east.reset()
    use_config(_config(east, west, doomed), tmp_path, monkeypatch)
    try:
        ask("survivor")
        doomed.stop()
        answers = [ask("survivor") for _ in range(30)]  # weight 9:1 towards the dead one
    finally:
        doomed.stop()
        gateway_config.set_config(None)
    assert all(answer["choices"][0]["message"]["content"].startswith("This is a fake answer") for answer in answers)
    assert east.requests()["total"] >= 30


def test_it_skips_a_deployment_at_its_own_quota(deployments, ask, east, west):
    for _ in range(10):
        ask("quota")
    assert east.requests()["total"] == 3  # its rpm; a million times the weight of west
    assert west.requests()["total"] == 7


def test_it_answers_429_when_every_deployment_is_at_its_quota(deployments, ask, api, user_key):
    ask("only-quota")
    ask("only-quota")
    headers = {"Authorization": f"Bearer {user_key}", "Cache-Control": "no-store"}
    response = api.post("/v1/chat/completions", headers=headers,
                        json={"model": "only-quota", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert response.headers["Retry-After"] == "1"


def test_it_sends_to_the_least_busy_deployment_as_counted_by_every_process(deployments, ask, east, west, shared_redis):
    shared_redis.set(redis_keys("calm/east")[2], 5)  # five requests in flight, from other gateway processes
    for _ in range(20):
        ask("calm")
    assert (east.requests()["total"], west.requests()["total"]) == (0, 20)
    assert int(shared_redis.get(redis_keys("calm/west")[2])) == 0  # each attempt ended: back to zero


def test_it_sends_to_the_deployment_with_the_lowest_recent_latency(deployments, ask, east, west, shared_redis):
    shared_redis.set(redis_keys("quick/east")[3], 900_000)  # 0.9 s, as measured by another process
    for _ in range(10):
        ask("quick")
    assert (east.requests()["total"], west.requests()["total"]) == (0, 10)
    assert 0 <= int(shared_redis.get(redis_keys("quick/west")[3])) < 900_000  # west's own latency, learnt


def test_it_shows_each_deployment_in_health(deployments, api, user_key):
    body = api.get("/health", headers={"X-API-Key": user_key}).json()
    assert body["services"]["deployments"]["pooled"] == [
        {"provider": "east", "upstream_model": "gpt-4o", "breaker": "closed"},
        {"provider": "west", "upstream_model": "gpt-4o", "breaker": "closed"},
    ]


def test_it_leaves_a_model_with_one_provider_alone(deployments):
    config = gateway_config.get_config()
    assert "solo" not in config.deployments and config.models["solo"].deployment == ""
    assert [route.provider.name for route in config.deployments["pooled"]] == ["east", "west"]
    assert {route.name for route in config.deployments["pooled"]} == {"pooled"}


def _route(provider: str, *, weight: float = 1.0, routing: str = "weighted"):
    raw = {"providers": {provider: {"protocol": "openai", "base_url": "http://127.0.0.1:1/v1"}},
           "models": {"m": {"routing": routing, "deployments": [{"provider": provider, "weight": weight}]}}}
    return parse_config(raw, environ={}).models["m"]


def test_it_orders_least_busy_then_by_weight():
    a, b, c = _route("a", routing="least-busy"), _route("b", weight=5, routing="least-busy"), _route("c", routing="least-busy")
    states = [DeploymentState(busy=2), DeploymentState(busy=2), DeploymentState(busy=0)]
    assert order_deployments([a, b, c], states, rand=lambda: 0.0) == [c, b, a]


def test_it_tries_a_deployment_of_unknown_latency_first():
    a, b = _route("a", routing="latency"), _route("b", routing="latency")
    assert order_deployments([a, b], [DeploymentState(latency_us=1000), DeploymentState()], rand=lambda: 0.0) == [b, a]


def test_it_keeps_the_same_counts_in_process_memory_without_redis():
    local = LocalDeployments()
    route = parse_config({"providers": {"a": {"protocol": "openai", "base_url": "http://127.0.0.1:1/v1"}},
                          "models": {"m": {"deployments": [{"provider": "a", "rpm": 2}]}}}, environ={}).models["m"]
    local.started(route)
    local.started(route)
    assert local.state(route) == DeploymentState(over_quota=True, busy=2)
    local.ended(route, 0.25)
    assert local.state(route) == DeploymentState(over_quota=True, busy=1, latency_us=250_000)


@pytest.mark.parametrize("model, problem", [
    ({"provider": "a", "deployments": [{"provider": "a"}]}, "models.m: give either provider or deployments"),
    ({"deployments": [{"provider": "a"}, {"provider": "a"}]}, "models.m.deployments: provider a is listed twice"),
    ({"deployments": [{"provider": "a", "weight": 0}]}, "models.m.deployments.0.weight"),
    ({"routing": "fastest", "provider": "a"}, "models.m.routing"),
])
def test_it_refuses_a_wrong_deployments_section(model, problem):
    raw = {"providers": {"a": {"protocol": "openai", "base_url": "http://127.0.0.1:1/v1"}}, "models": {"m": model}}
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, environ={})
    assert any(error.startswith(problem) for error in caught.value.errors), caught.value.errors

"""A reload sent to one gateway process reaches the others: a model's route and the default
rate limit change in a second process; an invalid file changes nothing anywhere."""

import shutil
import uuid

import pytest
import yaml
from gateway_site import gateway_config

from apps.keys.services import key_create
from tests.conftest import needs_redis
from tests.gateway_server import GatewayServer
from tests.stats.conftest import http_client, poll

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def config_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("reload") / "gateway.yaml"
    shutil.copy(gateway_config.config_path(), path)
    return path


@pytest.fixture(scope="module")
def two_gateways(fake_upstream, config_path, django_db_setup, django_db_blocker):
    needs_redis()
    env = {**fake_upstream.env(), "GATEWAY_CONFIG": str(config_path)}
    with django_db_blocker.unblock(), GatewayServer(env) as first, GatewayServer(env) as second:
        yield first, second


def edit(path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def ask(client, key: str, tag: str):
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": f"route me fake:tag={tag}"}]}
    return client.post("/v1/chat/completions", json=body, headers={"X-API-Key": key, "Cache-Control": "no-cache"})


def limit_seen(client, key: str) -> str:
    return client.get("/v1/models", headers={"X-API-Key": key}).headers["X-RateLimit-Limit"]


def served_by(fake_upstream, tag: str) -> list[str]:
    by_provider = fake_upstream.requests()["tags_by_provider"]
    return [provider for provider, tags in by_provider.items() if tags.get(tag)]


def test_a_reload_in_one_process_reaches_the_other(two_gateways, config_path, fake_upstream, admin_key):
    first, second = two_gateways
    _, user = key_create(name="nina")  # no rpm of its own: the config's default applies
    with http_client(first.url) as a, http_client(second.url) as b:
        before = f"before-{uuid.uuid4().hex[:8]}"
        assert ask(b, user, before).status_code == 200 and served_by(fake_upstream, before) == ["openai"]
        assert limit_seen(b, user) == "10"

        def reroute(data):
            data["models"]["gpt-4o"]["provider"] = "anthropic"
            data["rate_limits"]["requests_per_minute"] = 25

        edit(config_path, reroute)
        response = a.post("/admin/reload-config", headers={"X-API-Key": admin_key})
        assert response.status_code == 200 and response.json()["status"] == "success"

        assert poll(lambda: limit_seen(b, user), lambda limit: limit == "25", timeout=10) == "25"
        after = f"after-{uuid.uuid4().hex[:8]}"
        assert ask(b, user, after).status_code == 200 and served_by(fake_upstream, after) == ["anthropic"]
        assert limit_seen(a, user) == "25"


def test_an_invalid_file_changes_nothing_anywhere(two_gateways, config_path, fake_upstream, admin_key):
    first, second = two_gateways
    _, user = key_create(name="oscar")
    good = config_path.read_text()
    with http_client(first.url) as a, http_client(second.url) as b:
        limits = (limit_seen(a, user), limit_seen(b, user))
        config_path.write_text(good.replace("protocol: anthropic", "protocol: carrier-pigeon"))
        try:
            response = a.post("/admin/reload-config", headers={"X-API-Key": admin_key})
        finally:
            config_path.write_text(good)
        assert response.status_code == 400
        assert any("providers.anthropic.protocol" in e for e in response.json()["error"]["errors"])
        assert (limit_seen(a, user), limit_seen(b, user)) == limits
        tag = f"still-{uuid.uuid4().hex[:8]}"
        assert ask(b, user, tag).status_code == 200 and len(served_by(fake_upstream, tag)) == 1

"""GATEWAY_ACCESS_LOG=json: one JSON line per request at INFO, never a secret."""

import logging

import orjson
import pytest

import gateway_site.asgi  # noqa: F401 - set up (logging configured) before the handler attaches
from gateway_site.access_log import json_access_log

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def access_lines(monkeypatch, caplog):
    """The access log switched on in the in-process app; the lines it writes, parsed."""
    monkeypatch.setattr(gateway_site.asgi.application, "access_log", json_access_log)
    access = logging.getLogger("gateway.access")  # does not propagate: caplog listens on it directly
    access.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="gateway.access")
    yield lambda: [orjson.loads(record.getMessage()) for record in caplog.records if record.name == "gateway.access"]
    access.removeHandler(caplog.handler)


def chat(api, key: str, model: str = "gpt-4o"):
    body = {"model": model, "messages": [{"role": "user", "content": "Hello from the access-log test"}]}
    return api.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


def test_it_writes_one_json_line_per_request_with_key_prefix_model_status_and_latency(api, user_key, access_lines):
    response = chat(api, user_key)
    assert response.status_code == 200
    [line] = access_lines()
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert line["key_prefix"] == user_key[:12] and user_key.startswith(line["key_prefix"])
    assert (line["method"], line["path"], line["status"], line["model"]) == ("POST", "/v1/chat/completions", 200, "gpt-4o")
    assert line["latency_ms"] > 0
    assert user_key not in orjson.dumps(line).decode()


def test_it_logs_refused_requests_and_other_paths_without_the_key(api, access_lines):
    made_up = "pgw-MadeUpKeyThatIsNotStored0123456789"
    assert chat(api, made_up).status_code == 401
    assert api.get("/health/live").status_code == 200
    refused, health = access_lines()
    assert (refused["status"], refused.get("key_prefix")) == (401, None)
    assert (health["path"], health["status"]) == ("/health/live", 200)
    assert made_up not in str(refused)


def test_it_writes_nothing_by_default(api, user_key, caplog):
    assert gateway_site.asgi.application.access_log is None  # GATEWAY_ACCESS_LOG unset in the test settings
    logging.getLogger("gateway.access").addHandler(caplog.handler)
    try:
        chat(api, user_key)
    finally:
        logging.getLogger("gateway.access").removeHandler(caplog.handler)
    assert not [record for record in caplog.records if record.name == "gateway.access"]

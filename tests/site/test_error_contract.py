"""Every error path answers in the contract's shape, with X-Request-ID."""

import json

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db(transaction=True)


def assert_contract_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"error", "timestamp", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["message"] and body["error"]["type"]
    assert body["request_id"] == response["X-Request-ID"]
    assert body["request_id"].startswith("req_") and body["timestamp"].endswith("Z")
    return body


def test_it_refuses_a_missing_key(client):
    assert_contract_error(client.get("/v1/models"), 401, "invalid_api_key")
    assert_contract_error(client.get("/health"), 401, "invalid_api_key")


def test_it_refuses_unknown_revoked_and_expired_keys(client, revoked_key, expired_key):
    for raw in ("pgw-unknown", revoked_key, expired_key):
        assert_contract_error(client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {raw}"), 401, "invalid_api_key")
        assert_contract_error(client.get("/health", HTTP_X_API_KEY=raw), 401, "invalid_api_key")


def test_it_accepts_both_auth_headers(client, user_key):
    assert client.get("/v1/models", HTTP_X_API_KEY=user_key).status_code == 200
    assert client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {user_key}").status_code == 200
    assert client.get("/health", HTTP_AUTHORIZATION=f"Bearer {user_key}").status_code == 200


def test_it_refuses_a_normal_key_on_admin_endpoints(client, user_key):
    from django.urls import Resolver404, resolve

    admin_paths = []
    for path in ("/admin/cache/stats", "/stats", "/metrics"):
        try:
            resolve(path)
            admin_paths.append(path)
        except Resolver404:
            pass
    for path in admin_paths:
        assert_contract_error(client.get(path, HTTP_X_API_KEY=user_key), 403, "permission_denied")


def test_it_answers_unknown_routes_with_json_404(client, user_key):
    assert_contract_error(client.get("/v1/nothing-here", HTTP_X_API_KEY=user_key), 404, "not_found")
    assert_contract_error(client.get("/definitely/not/here"), 404, "not_found")


@override_settings(DEBUG=True)
def test_it_never_shows_django_debug_pages_to_api_clients(client):
    assert_contract_error(client.get("/v1/nothing-here"), 404, "not_found")


def test_it_answers_wrong_methods_with_405(client, user_key):
    assert_contract_error(client.get("/v1/chat/completions", HTTP_X_API_KEY=user_key), 405, "method_not_allowed")
    assert_contract_error(client.post("/health", HTTP_X_API_KEY=user_key), 405, "method_not_allowed")


def test_it_refuses_unparseable_json(client, user_key):
    response = client.post("/v1/chat/completions", data=b"{not json", content_type="application/json", HTTP_X_API_KEY=user_key)
    body = assert_contract_error(response, 400, "invalid_request")
    assert "JSON" in body["error"]["message"]


@override_settings(GATEWAY_MAX_BODY_BYTES=1000, DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_it_refuses_oversized_bodies(client, user_key):
    big = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 5000}]})
    response = client.post("/v1/chat/completions", data=big, content_type="application/json", HTTP_X_API_KEY=user_key)
    assert_contract_error(response, 413, "invalid_request")


def test_it_hides_unexpected_exceptions_behind_a_500(client, user_key, monkeypatch, caplog):
    from apps.completions import views

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "parse_chat_request", explode)
    response = client.post("/v1/chat/completions", data="{}", content_type="application/json", HTTP_X_API_KEY=user_key)
    body = assert_contract_error(response, 500, "internal_error")
    assert "secret internals" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert any(body["request_id"] in record.getMessage() for record in caplog.records)
    assert "secret internals" in caplog.text  # the full trace is in the log


def test_every_response_carries_a_request_id(client, user_key):
    for response in (client.get("/health/live"), client.get("/v1/models", HTTP_X_API_KEY=user_key), client.get("/nope")):
        assert response["X-Request-ID"].startswith("req_")

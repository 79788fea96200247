"""Every error path answers in the contract's shape, with X-Request-ID."""

import json

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db(transaction=True)


def assert_contract_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"error", "timestamp", "request_id"}
    assert body["error"]["code"] == code
    assert body["error"]["message"] and body["error"]["type"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert body["request_id"].startswith("req_") and body["timestamp"].endswith("Z")
    return body


def test_it_refuses_a_missing_key(client, api):
    assert_contract_error(api.get("/v1/models"), 401, "invalid_api_key")
    assert_contract_error(client.get("/health"), 401, "invalid_api_key")


def test_it_refuses_unknown_revoked_and_expired_keys(client, api, revoked_key, expired_key):
    for raw in ("pgw-unknown", revoked_key, expired_key):
        assert_contract_error(api.get("/v1/models", headers={"Authorization": f"Bearer {raw}"}), 401, "invalid_api_key")
        assert_contract_error(client.get("/health", HTTP_X_API_KEY=raw), 401, "invalid_api_key")


def test_it_accepts_both_auth_headers(client, api, user_key):
    assert api.get("/v1/models", headers={"X-API-Key": user_key}).status_code == 200
    assert api.get("/v1/models", headers={"Authorization": f"Bearer {user_key}"}).status_code == 200
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


def test_it_answers_unknown_routes_with_json_404(client, api, user_key):
    assert_contract_error(api.get("/v1/nothing-here", headers={"X-API-Key": user_key}), 404, "not_found")
    assert_contract_error(api.get("/v1/models/", headers={"X-API-Key": user_key}), 404, "not_found")
    assert_contract_error(client.get("/definitely/not/here"), 404, "not_found")


@override_settings(DEBUG=True)
def test_it_never_shows_django_debug_pages_to_api_clients(client, api):
    assert_contract_error(api.get("/v1/nothing-here"), 404, "not_found")
    assert_contract_error(client.get("/nothing-here"), 404, "not_found")


def test_it_answers_wrong_methods_with_405(client, api, user_key):
    assert_contract_error(api.get("/v1/chat/completions", headers={"X-API-Key": user_key}), 405, "method_not_allowed")
    assert_contract_error(api.post("/v1/models", headers={"X-API-Key": user_key}), 405, "method_not_allowed")
    assert_contract_error(client.post("/health", HTTP_X_API_KEY=user_key), 405, "method_not_allowed")


def test_it_refuses_unparseable_json(api, user_key):
    response = api.post("/v1/chat/completions", content=b"{not json", headers={"X-API-Key": user_key})
    body = assert_contract_error(response, 400, "invalid_request")
    assert "JSON" in body["error"]["message"]


@override_settings(GATEWAY_MAX_BODY_BYTES=1000, DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_it_refuses_oversized_bodies(api, user_key):
    big = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 5000}]}).encode()
    response = api.post("/v1/chat/completions", content=big, headers={"X-API-Key": user_key})
    assert_contract_error(response, 413, "invalid_request")

    async def chunks():  # no Content-Length: the limit holds while the body is read
        for start in range(0, len(big), 500):
            yield big[start:start + 500]

    response = api.post("/v1/chat/completions", content=chunks(), headers={"X-API-Key": user_key})
    assert_contract_error(response, 413, "invalid_request")


@override_settings(GATEWAY_MAX_BODY_BYTES=1000)
def test_it_refuses_an_endless_chunked_upload_to_any_path_before_storing_it(api):
    """No key is needed for /health/live: the limit must hold before any view is reached."""
    sent = []

    async def endless():
        while len(sent) < 10_000:  # 10 MB if nobody stopped reading
            sent.append(1)
            yield b"x" * 1000

    response = api.post("/health/live", content=endless())
    assert_contract_error(response, 413, "invalid_request")
    assert len(sent) <= 3  # it stopped reading at the limit


def test_it_hides_unexpected_exceptions_behind_a_500(api, user_key, monkeypatch, caplog):
    from apps.completions import views

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views, "parse_chat_request", explode)
    response = api.post("/v1/chat/completions", content=b"{}", headers={"X-API-Key": user_key})
    body = assert_contract_error(response, 500, "internal_error")
    assert "secret internals" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert any(body["request_id"] in record.getMessage() for record in caplog.records)
    assert "secret internals" in caplog.text  # the full trace is in the log


def test_every_response_carries_a_request_id(client, api, user_key):
    responses = (client.get("/health/live"), api.get("/v1/models", headers={"X-API-Key": user_key}), client.get("/nope"), api.get("/v1/nope"))
    request_ids = [response.headers["X-Request-ID"] for response in responses]
    assert all(request_id.startswith("req_") and len(request_id) == 28 for request_id in request_ids)
    assert len(set(request_ids)) == len(request_ids)


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/models", "/v1/models/gpt-4o", "/health", "/health/live",
                                  "/stats", "/admin/cache/clear"])
def test_it_names_the_allowed_methods_when_refusing_one(api, admin_key, path):
    response = api.request("TRACE", path, headers={"X-API-Key": admin_key})
    assert_contract_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] and "TRACE" not in response.headers["Allow"]

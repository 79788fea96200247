"""/metrics answers an admin key, or a scraper from an allow-listed address; nobody else."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_refuses_a_missing_or_normal_key(client, user_key):
    assert client.get("/metrics").status_code == 401
    denied = client.get("/metrics", HTTP_X_API_KEY=user_key)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"


def test_it_serves_an_admin_key_by_either_header(client, admin_key):
    for headers in ({"HTTP_X_API_KEY": admin_key}, {"HTTP_AUTHORIZATION": f"Bearer {admin_key}"}):
        response = client.get("/metrics", **headers)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        assert b"# TYPE gateway_requests_total counter" in response.content


def test_it_answers_any_accept_header_a_scraper_sends(client, admin_key):
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    assert client.get("/metrics", HTTP_X_API_KEY=admin_key, HTTP_ACCEPT=accept).status_code == 200
    assert client.get("/metrics", HTTP_X_API_KEY=admin_key, HTTP_ACCEPT="application/json").status_code == 200


@override_settings(GATEWAY_METRICS_ALLOWED_IPS=["10.1.2.3"])
def test_it_lets_an_allow_listed_address_scrape_without_a_key(client):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.4").status_code == 401


@override_settings(GATEWAY_METRICS_ALLOWED_IPS=["10.1.2.3"])
def test_it_does_not_trust_a_forwarded_for_header(client):
    assert client.get("/metrics", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 401

"""The cache administration API with Redis dead: an answer in the contract's envelope,
never a 500 with a trace."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dead_redis(disposable_redis):
    with override_settings(REDIS_URL=disposable_redis.url):
        disposable_redis.stop()
        yield disposable_redis


def test_it_answers_503_to_a_cache_clear_while_redis_is_down(client, admin_key, dead_redis):
    response = client.post("/admin/cache/clear", content_type="application/json", HTTP_X_API_KEY=admin_key)
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "service_unavailable" and body["request_id"] == response.headers["X-Request-ID"]
    assert int(response.headers["Retry-After"]) > 0


def test_it_reports_redis_as_disconnected_in_the_cache_figures(client, admin_key, dead_redis):
    response = client.get("/admin/cache/stats", HTTP_X_API_KEY=admin_key)
    assert response.status_code in (200, 503)
    if response.status_code == 200:
        assert response.json()["redis"]["connected"] is False
    else:
        assert response.json()["error"]["code"] == "service_unavailable"


def test_it_logs_one_line_for_many_failed_clears(client, admin_key, dead_redis, caplog):
    for _ in range(20):
        assert client.post("/admin/cache/clear", content_type="application/json", HTTP_X_API_KEY=admin_key).status_code == 503
    error_lines = [record for record in caplog.records if record.name == "gateway.errors"]
    assert len(error_lines) == 1 and "ConnectionError" in error_lines[0].getMessage()
    assert "Service Unavailable" not in caplog.text  # Django's own line per response is not added

"""Unexpected exceptions: the first trace of a cause is logged, then one line per interval
with a count, and a metric per cause; a dead database or Redis is a 503, not a 500."""

import pytest
from django.db import OperationalError

import gateway_site.asgi  # noqa: F401 - set up (logging configured) before caplog attaches
from apps.stats import metrics

pytestmark = pytest.mark.django_db(transaction=True)


def explode_with(monkeypatch, exc: Exception) -> None:
    from apps.completions import views

    def explode(*args, **kwargs):
        raise exc

    monkeypatch.setattr(views, "parse_chat_request", explode)


def unhandled_counts() -> dict[str, float]:
    return {sample.labels["cause"]: sample.value for metric in metrics.UNHANDLED_ERRORS.collect()
            for sample in metric.samples if sample.name.endswith("_total")}


def test_it_logs_one_trace_for_many_requests_failing_the_same_way(api, user_key, monkeypatch, caplog):
    explode_with(monkeypatch, RuntimeError("same bug every time"))
    before = unhandled_counts()
    for _ in range(30):
        response = api.post("/v1/chat/completions", content=b"{}", headers={"X-API-Key": user_key})
        assert response.status_code == 500
    lines = [record for record in caplog.records if record.name == "gateway.errors"]
    assert len(lines) == 1 and lines[0].exc_info is not None
    counted = {cause: count - before.get(cause, 0) for cause, count in unhandled_counts().items() if count != before.get(cause, 0)}
    [(cause, count)] = counted.items()
    assert cause.startswith("RuntimeError at tests/site/test_unhandled_errors.py:")  # a bounded label: type and line
    assert count == 30


def test_it_answers_503_when_the_database_fails_under_a_view(api, user_key, monkeypatch):
    explode_with(monkeypatch, OperationalError("connection refused"))
    response = api.post("/v1/chat/completions", content=b"{}", headers={"X-API-Key": user_key})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert "connection refused" not in response.text
    assert int(response.headers["Retry-After"]) > 0

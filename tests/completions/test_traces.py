"""Traces (OpenTelemetry): the span tree of a request, read from an in-memory exporter."""

import uuid

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from apps.stats import usage
from gateway_site import gateway_config, tracing
from tests.config_files import use_config
from tests.gateway_server import free_port

pytestmark = pytest.mark.django_db(transaction=True)

CLOSED_PORT = free_port()  # nothing listens here: connection refused
ROOT = "POST /v1/chat/completions"


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    yield exporter
    tracing.install(None)


@pytest.fixture
def traced_gateway(fake_upstream, tmp_path, monkeypatch, spans):
    """In process: gpt-4o (retried at once on a 503) and dead-primary (nothing listens)
    falling back to backup (Anthropic)."""
    fake = {"api_key_env": "OPENAI_API_KEY", "base_url": f"{fake_upstream.url}/openai/v1", "protocol": "openai"}
    raw = {
        "defaults": {"retries": {"max_attempts": 2, "backoff_base": 0.001, "backoff_max": 0.002},
                     "circuit_breaker": {"failure_threshold": 1000, "cooldown": 0.1}},
        "providers": {
            "openai": fake,
            "dead": {**fake, "base_url": f"http://127.0.0.1:{CLOSED_PORT}/v1", "retries": {"max_attempts": 1}},
            "steady": {"protocol": "anthropic", "base_url": f"{fake_upstream.url}/anthropic", "api_key_env": "ANTHROPIC_API_KEY"},
        },
        "models": {
            "gpt-4o": {"provider": "openai"},
            "dead-primary": {"provider": "dead", "upstream_model": "gpt-4o", "fallbacks": ["backup"]},
            "backup": {"provider": "steady", "upstream_model": "claude-sonnet-4-20250514"},
        },
        "rate_limits": {"requests_per_minute": 100000},
    }
    use_config(raw, tmp_path, monkeypatch)
    yield
    gateway_config.set_config(None)
    usage.flush_all()


@pytest.fixture
def chat(api, traced_gateway, user_key):
    def send(content: str, *, model: str = "gpt-4o", stream: bool = False, headers: dict | None = None):
        body = {"model": model, "messages": [{"role": "user", "content": content}], "stream": stream}
        headers = {"Authorization": f"Bearer {user_key}", "Cache-Control": "no-store", **(headers or {})}
        return api.post("/v1/chat/completions", json=body, headers=headers)

    return send


def tree(exporter: InMemorySpanExporter):
    """The request's root span and its children by name, in the order they started."""
    finished = exporter.get_finished_spans()
    (root,) = [span for span in finished if span.name == ROOT]
    children = sorted((span for span in finished if span.parent is not None and span.parent.span_id == root.context.span_id),
                      key=lambda span: span.start_time)
    assert all(span.context.trace_id == root.context.trace_id for span in finished)
    return root, children


def test_it_traces_a_retry_as_two_attempts_under_one_request(chat, spans):
    response = chat(f"hello fake:flaky=1:{uuid.uuid4().hex[:12]}")
    assert response.status_code == 200, response.text

    root, children = tree(spans)
    assert root.kind is SpanKind.SERVER
    assert [span.name for span in children] == ["gateway.admission", "gateway.cache.lookup", "chat gpt-4o", "chat gpt-4o"]
    first, second = children[2:]
    assert (first.attributes["gateway.attempt"], first.attributes["gateway.attempt.outcome"]) == (1, "http_503")
    assert first.status.status_code is StatusCode.ERROR and first.kind is SpanKind.CLIENT
    assert (second.attributes["gateway.attempt"], second.attributes["gateway.attempt.outcome"]) == (2, "success")
    assert children[1].attributes["gateway.cache.result"] == "miss"

    usage_body = response.json()["usage"]
    assert root.attributes[tracing.REQUEST_ID] == response.headers["X-Request-ID"]
    assert root.attributes["http.response.status_code"] == 200
    assert root.attributes["gen_ai.system"] == "openai"
    assert root.attributes["gen_ai.request.model"] == root.attributes["gen_ai.response.model"] == "gpt-4o"
    assert root.attributes["gen_ai.usage.input_tokens"] == usage_body["prompt_tokens"] > 0
    assert root.attributes["gen_ai.usage.output_tokens"] == usage_body["completion_tokens"] > 0
    assert root.attributes["gateway.attempts"] == 2


def test_it_traces_a_fallback_to_another_provider(chat, spans):
    response = chat("hello", model="dead-primary")
    assert response.status_code == 200, response.text

    root, children = tree(spans)
    attempts = [span for span in children if span.kind is SpanKind.CLIENT]
    assert [(span.attributes["gateway.provider"], span.attributes["gateway.attempt.outcome"]) for span in attempts] == [
        ("dead", "connection"), ("steady", "success")]
    assert attempts[1].attributes["gen_ai.system"] == "anthropic"
    assert attempts[1].attributes["gen_ai.request.model"] == "claude-sonnet-4-20250514"
    assert root.attributes["gen_ai.request.model"] == "dead-primary"
    assert root.attributes["gen_ai.response.model"] == "backup"
    assert root.attributes["gen_ai.system"] == "anthropic"


def test_it_traces_a_stream_until_its_end(chat, spans):
    response = chat("hello stream", stream=True)
    assert response.status_code == 200 and response.text.rstrip().endswith("data: [DONE]")

    root, children = tree(spans)
    assert [span.name for span in children] == ["gateway.admission", "gateway.cache.lookup", "chat gpt-4o", "gateway.stream"]
    stream = children[-1]
    assert stream.attributes["gateway.stream.complete"] is True
    assert stream.end_time <= root.end_time
    assert root.attributes["gen_ai.usage.output_tokens"] > 0


def test_it_continues_the_callers_trace(chat, spans):
    trace_id, parent_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    response = chat("hello", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    assert response.status_code == 200

    root, _ = tree(spans)
    assert format(root.context.trace_id, "032x") == trace_id
    assert format(root.parent.span_id, "016x") == parent_id and root.parent.is_remote


def test_it_marks_a_refused_request_without_calling_upstream(chat, spans, api):
    response = api.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": []},
                        headers={"Authorization": "Bearer sk-not-a-key"})
    assert response.status_code == 401

    root, children = tree(spans)
    assert [span.name for span in children] == ["gateway.admission"]
    assert children[0].status.status_code is StatusCode.ERROR
    assert root.attributes["http.response.status_code"] == 401

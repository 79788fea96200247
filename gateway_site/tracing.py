"""Traces with OpenTelemetry: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set.

One span per API request (the front door's), with children for admission, the cache
lookup, each upstream attempt (retries and fallbacks are separate spans) and the stream.
Attributes follow the OpenTelemetry GenAI semantic conventions
(https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/): `gen_ai.system`,
`gen_ai.request.model`, `gen_ai.usage.input_tokens`, ...

Off, the request path pays one `if tracing.tracer is not None` per site: no span
objects, no context propagation, not even the SDK imported. The tracer is process-level
configuration, like the running gateway config: `install()` swaps it whole.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

# The API alone (no SDK): small, and it is what starts spans once a provider is installed.
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

SERVICE_NAME = "prometheus-gateway"
REQUEST_ID = "gateway.request_id"  # no semantic convention names a request id

# gen_ai.system per provider protocol (the convention's well-known values).
GEN_AI_SYSTEMS = {"openai": "openai", "anthropic": "anthropic", "gemini": "gcp.gemini"}

tracer: Tracer | None = None
_provider: TracerProvider | None = None
_propagator = TraceContextTextMapPropagator()


def configure_from_environment(environ: Mapping[str, str] = os.environ) -> bool:
    """Turns tracing on with the OTLP/HTTP exporter when an endpoint is configured (the
    exporter reads the OTEL_EXPORTER_OTLP_* variables itself); True if it did."""
    if not (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return False
    if environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES still win (Resource.create reads them).
    attributes = {} if environ.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(attributes))
    # Batched, in a background thread: an export never waits on a request (or the reverse);
    # a full queue drops spans rather than memory or time.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    install(provider)
    return True


def install(provider: TracerProvider | None) -> None:
    """Traces into `provider` from now on (None: off). Tests install one with an
    in-memory exporter."""
    global tracer, _provider
    _provider = provider
    tracer = provider.get_tracer("prometheus_gateway") if provider is not None else None


def shutdown() -> None:
    """Exports what is still batched; then tracing is off."""
    provider = _provider
    install(None)
    if provider is not None:
        provider.shutdown()


def request_span(method: str, route: str, raw_headers: list[tuple[bytes, bytes]]) -> Any:
    """The server span of one API request, a child of the caller's `traceparent` if it
    sent one (W3C Trace Context); a context manager that makes it current."""
    carrier = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw_headers
               if name.lower() in (b"traceparent", b"tracestate")}
    return tracer.start_as_current_span(
        f"{method} {route}", context=_propagator.extract(carrier) if carrier else None, kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "http.route": route},
        record_exception=False, set_status_on_exception=False,
    )


def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, Any] | None = None) -> Any:
    """A child of the current span, made current. Exceptions are not recorded: their
    messages may carry an upstream's words (or a secret it echoed); `failed()` says what
    went wrong by type."""
    return tracer.start_as_current_span(name, kind=kind, attributes=attributes,
                                        record_exception=False, set_status_on_exception=False)


def detached_span(name: str, *, attributes: Mapping[str, Any] | None = None) -> Span:
    """A child of the current span, not made current: for a generator, which may end in
    another context than it started in. The caller ends it."""
    return tracer.start_span(name, attributes=attributes, record_exception=False, set_status_on_exception=False)


def current_span() -> Span:
    return trace.get_current_span()


def failed(target: Span, error_type: str) -> None:
    target.set_attribute("error.type", error_type)
    target.set_status(Status(StatusCode.ERROR))


def gen_ai_system(protocol: str) -> str:
    return GEN_AI_SYSTEMS.get(protocol, protocol)

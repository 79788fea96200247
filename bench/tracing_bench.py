"""What tracing costs per request in process: the spans of one chat completion (request,
admission, cache lookup, one upstream attempt, with their attributes) created and ended
with the batch processor, and their OTLP protobuf encoding (done in the exporter's thread,
same process). docs/benchmarks.md, "Traces".

    .venv/bin/python bench/tracing_bench.py
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from gateway_site import tracing  # noqa: E402

TRACEPARENT = [(b"traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
ATTEMPT = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
           "gateway.model": "gpt-4o", "gateway.provider": "openai", "gateway.attempt": 1}
OUTCOME = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
           "gen_ai.response.model": "gpt-4o", "gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 12,
           "http.response.status_code": 200, "gateway.attempts": 1}


class Discard(SpanExporter):
    def export(self, spans) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def one_request() -> None:
    with tracing.request_span("POST", "/v1/chat/completions", TRACEPARENT) as root:
        with tracing.span("gateway.admission"):
            pass
        with tracing.span("gateway.cache.lookup") as span:
            span.set_attribute("gateway.cache.result", "miss")
        with tracing.span("chat gpt-4o", kind=tracing.SpanKind.CLIENT, attributes=ATTEMPT) as span:
            span.set_attribute("gateway.attempt.outcome", "success")
        root.set_attributes(OUTCOME)
        root.set_attribute(tracing.REQUEST_ID, "req_123")


def per_call_us(function, number: int) -> float:
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard(), max_queue_size=1 << 20))
    tracing.install(provider)
    print(f"4 spans created and ended (batch processor): {per_call_us(one_request, 20000):.1f} us per request")

    exporter = InMemorySpanExporter()
    kept = TracerProvider()
    kept.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(kept)
    for _ in range(250):
        one_request()
    spans = exporter.get_finished_spans()
    encode = per_call_us(lambda: encode_spans(spans).SerializeToString(), 20) / 250
    print(f"OTLP protobuf encoding (exporter thread): {encode:.1f} us per request")
    tracing.install(None)


if __name__ == "__main__":
    main()

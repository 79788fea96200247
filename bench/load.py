"""Load benchmark: the fake upstream directly vs. through the gateway, with wrk.

    make bench                      # or: .venv/bin/python bench/load.py [--seconds 8] [--server uvicorn]

Starts the fake upstream and the gateway in its production configuration (one uvicorn
worker, uvloop + httptools, no access log), creates a benchmark key, then runs wrk at 1,
16 and 64 connections, non-stream and stream, against both. A second gateway has tracing
on (OpenTelemetry, batched OTLP/HTTP export to a local sink that discards the spans,
bench/otlp_sink.py): its rows are "gateway (tracing on)". Every prompt is unique, so no
cache answers. Time to first byte of a stream at 1 connection is measured by a small
sequential client (wrk only sees whole responses). Bounded: about 2-3 minutes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from wrk import run_wrk

from tests.fakes.runner import FakeUpstream
from tests.gateway_server import free_port

BODY = '{"model": "gpt-4o", "messages": [{"role": "user", "content": "%s"}]}'
STREAM_BODY = '{"model": "gpt-4o", "stream": true, "messages": [{"role": "user", "content": "%s"}]}'
# The same request through the Anthropic Messages ingress (translated for an OpenAI model).
MESSAGES_BODY = '{"model": "gpt-4o", "max_tokens": 256, "messages": [{"role": "user", "content": "%s"}]}'
MESSAGES_STREAM_BODY = '{"model": "gpt-4o", "max_tokens": 256, "stream": true, "messages": [{"role": "user", "content": "%s"}]}'
UPSTREAM_BODY = '{"model": "gpt-4o", "messages": [{"role": "user", "content": "%s"}]}'
UPSTREAM_STREAM_BODY = '{"model": "gpt-4o", "stream": true, "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "%s"}]}'
RESPONSES_BODY = '{"model": "gpt-4o", "input": "%s"}'
RESPONSES_STREAM_BODY = '{"model": "gpt-4o", "stream": true, "input": "%s"}'
PROMPT = "Write one sentence about benchmarks"


def start_gateway(env: dict[str, str], server: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    app = "gateway_site.asgi:application"
    if server == "uvicorn":
        command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                   "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--lifespan", "on", "--log-level", "warning"]
    elif server == "granian":
        command = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", str(workers), "--loop", "uvloop", "--no-ws", "--log-level", "warning", app]
    else:
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/health/live")
            if connection.getresponse().status == 200:
                return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the gateway did not start")


def create_key(env: dict[str, str]) -> str:
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    output = subprocess.run(
        [sys.executable, "manage.py", "create_api_key", "bench", "--rpm", "1000000000"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout
    return output.strip().splitlines()[-1]


def first_byte_ms(host: str, port: int, path: str, body: str, headers: dict[str, str], count: int) -> float:
    """p50 time to the first body byte of a streamed answer, one persistent connection."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    samples = []
    for index in range(count):
        payload = body % f"{PROMPT} ttfb-{index}-{time.time_ns()}"
        started = time.perf_counter()
        connection.request("POST", path, body=payload, headers={"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        response.read1(1)
        samples.append((time.perf_counter() - started) * 1000)
        response.read()
    connection.close()
    return statistics.median(samples[count // 10:])  # the first tenth warms connections up


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--server", default="uvicorn", choices=["uvicorn", "granian", "daphne"])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--endpoints", default="chat,messages,responses,tracing",
                        help="what to measure besides the upstream itself: chat (/v1/chat/completions), messages "
                             "(/v1/messages), responses (/v1/responses), tracing (chat on a gateway with tracing on)")
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    wanted = set(args.endpoints.split(","))

    with FakeUpstream() as fake:
        env = {**os.environ, **fake.env(), "LOG_LEVEL": "WARNING", "GATEWAY_EMBEDDED_DB_KEEP": "1"}
        gateway, url = start_gateway(env, args.server, args.workers)
        sink = traced = None
        traced_url = ""
        if "tracing" in wanted:  # a second gateway, exporting every span to a local sink
            sink_port = free_port()
            sink = subprocess.Popen([sys.executable, str(ROOT / "bench" / "otlp_sink.py"), str(sink_port)],
                                    stdout=subprocess.PIPE, text=True)
            traced, traced_url = start_gateway({**env, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}"},
                                               args.server, args.workers)
        try:
            key = create_key(env)
            auth = {"Authorization": f"Bearer {key}"}
            print(f"# gateway: {args.server}, {args.workers} worker(s); fake upstream at {fake.url}; {args.seconds:g} s per run\n")
            targets = [
                ("direct", f"{fake.url}/openai/v1/chat/completions", {"Authorization": "Bearer fake-key"}, UPSTREAM_BODY, UPSTREAM_STREAM_BODY),
                ("gateway", f"{url}/v1/chat/completions", auth, BODY, STREAM_BODY),
                ("gateway (tracing on)", f"{traced_url}/v1/chat/completions", auth, BODY, STREAM_BODY),
                ("gateway /v1/messages", f"{url}/v1/messages", auth, MESSAGES_BODY, MESSAGES_STREAM_BODY),
                ("gateway /v1/responses", f"{url}/v1/responses", auth, RESPONSES_BODY, RESPONSES_STREAM_BODY),
            ]
            endpoint_of = {"direct": "direct", "gateway": "chat", "gateway (tracing on)": "tracing",
                           "gateway /v1/messages": "messages", "gateway /v1/responses": "responses"}
            targets = [t for t in targets if endpoint_of[t[0]] in wanted | {"direct"}]
            for name, target, headers, body, _ in targets:  # warm-up: connections, imports, caches
                run_wrk(target, body_template=body, prompt=f"{PROMPT} {uuid.uuid4().hex[:8]}", headers=headers, connections=4, seconds=2)
            results = {}
            print("| mode | connections | target | requests/s | p50 ms | p99 ms | errors |")
            print("|---|---:|---|---:|---:|---:|---:|")
            for mode in ("non-stream", "stream"):
                for count in connections:
                    for name, target, headers, body, stream_body in targets:
                        # wrk numbers prompts from 1 in every run: a prompt of the run's own, or
                        # the gateway's exact cache would answer what an earlier run asked.
                        prompt = f"{PROMPT} {uuid.uuid4().hex[:8]}"
                        result = run_wrk(target, body_template=stream_body if mode == "stream" else body, prompt=prompt,
                                         headers=headers, connections=count, seconds=args.seconds, threads=2 if count > 1 else 1)
                        results[(mode, count, name)] = result
                        print(f"| {mode} | {count} | {name} | {result.rps:.0f} | {result.p50_ms:.2f} | {result.p99_ms:.2f} | {result.errors} |", flush=True)
            host, port = "127.0.0.1", int(url.rsplit(":", 1)[1])
            fake_port = int(fake.url.rsplit(":", 1)[1])
            ttfb_direct = first_byte_ms("127.0.0.1", fake_port, "/openai/v1/chat/completions", UPSTREAM_STREAM_BODY,
                                       {"Authorization": "Bearer fake-key"}, 300)
            print()
            for name, target, headers, _, stream_body in targets[1:]:
                for mode in ("non-stream", "stream"):
                    if 1 in connections:
                        overhead = results[(mode, 1, name)].p50_ms - results[(mode, 1, "direct")].p50_ms
                        print(f"{name}: overhead p50 at 1 connection, {mode} (whole response): {overhead:.2f} ms")
                ttfb_gateway = first_byte_ms(host, port, target.removeprefix(url), stream_body, auth, 300)
                print(f"{name}: time to first byte of a stream, p50 at 1 connection: direct {ttfb_direct:.2f} ms, "
                      f"gateway {ttfb_gateway:.2f} ms, overhead {ttfb_gateway - ttfb_direct:.2f} ms")
            print(json.dumps({f"{m}/{c}/{n}": round(r.rps) for (m, c, n), r in results.items()}))
        finally:
            for process in (gateway, traced):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=15)
            if sink is not None:
                sink.terminate()
                print(sink.communicate(timeout=15)[0].strip().splitlines()[-1])


if __name__ == "__main__":
    main()

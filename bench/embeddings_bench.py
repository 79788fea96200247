"""Embeddings benchmark: POST /v1/embeddings through the gateway, with wrk.

    make bench-embeddings           # or: .venv/bin/python bench/embeddings_bench.py [--seconds 6]

Starts the fake upstream and the gateway (one uvicorn worker, production settings, as
bench/load.py does), then measures at 1 and 16 connections: the local all-minilm-l6-v2
(one unique short text per request, so every request runs the model; and 16 texts per
request), text-embedding-3-small at the fake upstream (the gateway's own cost), and a
repeated request answered by the exact cache. Bounded: about a minute and a half.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import create_key, start_gateway  # noqa: E402
from wrk import run_wrk  # noqa: E402

from tests.fakes.runner import FakeUpstream  # noqa: E402

TEXT = "How do I reset the password of my account"
SCENARIOS = [
    # name, body template (one %s: a unique text unless cached), unique
    ("local, 1 text", '{"model": "all-minilm-l6-v2", "input": "%s"}', True),
    ("local, 16 texts", '{"model": "all-minilm-l6-v2", "input": [' + ", ".join(['"%s"'] + [f'"{TEXT} {n}"' for n in range(15)]) + "]}", True),
    ("openai at the fake, 1 text", '{"model": "text-embedding-3-small", "input": "%s"}', True),
    ("exact-cache hit, local", '{"model": "all-minilm-l6-v2", "input": "%s"}', False),
]


def load_model(url: str, auth: dict[str, str]) -> None:
    """The model loads on first use: ~5 s on an idle machine, 40 s on a busy one."""
    connection = http.client.HTTPConnection("127.0.0.1", int(url.rsplit(":", 1)[1]), timeout=180)
    body = json.dumps({"model": "all-minilm-l6-v2", "input": TEXT})
    connection.request("POST", "/v1/embeddings", body=body, headers={"Content-Type": "application/json", **auth})
    response = connection.getresponse()
    response.read()
    connection.close()
    if response.status != 200:
        raise SystemExit(f"the local model did not answer: HTTP {response.status}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--connections", default="1,16")
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    with FakeUpstream() as fake:
        env = {**os.environ, **fake.env(), "LOG_LEVEL": "WARNING", "GATEWAY_EMBEDDED_DB_KEEP": "1"}
        gateway, url = start_gateway(env, "uvicorn", 1)
        try:
            auth = {"Authorization": f"Bearer {create_key(env)}"}
            target = f"{url}/v1/embeddings"
            load_model(url, auth)
            run_wrk(target, body_template=SCENARIOS[0][1], prompt=TEXT, headers=auth, connections=2, seconds=8)
            print(f"# POST /v1/embeddings, one uvicorn worker; {args.seconds:g} s per run\n")
            print("| scenario | connections | requests/s | p50 ms | p99 ms | errors |")
            print("|---|---:|---:|---:|---:|---:|")
            for name, body, unique in SCENARIOS:
                for count in connections:
                    # A text of the run's own: wrk numbers requests from 1 in every run.
                    prompt = f"{TEXT} {uuid.uuid4().hex[:8]}"
                    result = run_wrk(target, body_template=body, prompt=prompt, headers=auth, connections=count,
                                     seconds=args.seconds, unique=unique, threads=2 if count > 1 else 1)
                    print(f"| {name} | {count} | {result.rps:.0f} | {result.p50_ms:.2f} | {result.p99_ms:.2f} | {result.errors} |",
                          flush=True)
        finally:
            gateway.terminate()
            gateway.wait(timeout=15)


if __name__ == "__main__":
    main()

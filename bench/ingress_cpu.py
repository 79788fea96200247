"""CPU the gateway spends per request, Chat Completions vs. the /v1/messages ingress.

    .venv/bin/python bench/ingress_cpu.py [--requests 3000]

wrk's requests/s swing with whatever else runs on a shared machine; the gateway
process's own CPU time per request does much less. Starts the fake upstream and the
gateway (one uvicorn worker, as bench/load.py does), then sends the same number of
requests, one connection, unique prompts (no cache hit), to each endpoint in turn, and
reads the worker's user+system CPU time (/proc) before and after each batch. Alternates
the endpoints over several rounds and reports the median per endpoint.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import create_key, start_gateway  # noqa: E402

from tests.fakes.runner import FakeUpstream  # noqa: E402

CHAT = ("/v1/chat/completions", '{"model": "gpt-4o", %s"messages": [{"role": "user", "content": "%s"}]}')
MESSAGES = ("/v1/messages", '{"model": "gpt-4o", "max_tokens": 256, %s"messages": [{"role": "user", "content": "%s"}]}')
CLAUDE = ("/v1/messages", '{"model": "claude-sonnet-4-20250514", "max_tokens": 256, %s"messages": [{"role": "user", "content": "%s"}]}')
CLAUDE_CHAT = ("/v1/chat/completions", '{"model": "claude-sonnet-4-20250514", %s"messages": [{"role": "user", "content": "%s"}]}')
TARGETS = {
    "chat gpt-4o": CHAT, "messages gpt-4o (translated)": MESSAGES,
    "chat claude (translated)": CLAUDE_CHAT, "messages claude (passthrough)": CLAUDE,
}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children (uvicorn may fork a worker)."""
    total = 0.0
    pids = [pid] + [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def batch(port: int, key: str, path: str, template: str, count: int, stream: bool) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    tag = uuid.uuid4().hex[:8]
    extra = '"stream": true, ' if stream else ""
    for index in range(count):
        body = template % (extra, f"Write one sentence about benchmarks {tag} {index}")
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json", "x-api-key": key})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"{path}: HTTP {response.status}")
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with FakeUpstream() as fake:
        env = {**os.environ, **fake.env(), "LOG_LEVEL": "WARNING", "GATEWAY_EMBEDDED_DB_KEEP": "1"}
        gateway, url = start_gateway(env, "uvicorn", 1)
        try:
            key = create_key(env)
            port = int(url.rsplit(":", 1)[1])
            print("| mode | target | CPU µs per request (median of rounds) |")
            print("|---|---|---:|")
            for stream in (False, True):
                samples: dict[str, list[float]] = {name: [] for name in TARGETS}
                for name, (path, template) in TARGETS.items():  # warm-up
                    batch(port, key, path, template, 200, stream)
                for _ in range(args.rounds):
                    for name, (path, template) in TARGETS.items():
                        before = cpu_seconds(gateway.pid)
                        batch(port, key, path, template, args.requests, stream)
                        samples[name].append((cpu_seconds(gateway.pid) - before) / args.requests * 1e6)
                for name, values in samples.items():
                    print(f"| {'stream' if stream else 'non-stream'} | {name} | {statistics.median(values):.0f} |", flush=True)
        finally:
            gateway.terminate()
            gateway.wait(timeout=15)
            time.sleep(0.1)


if __name__ == "__main__":
    main()

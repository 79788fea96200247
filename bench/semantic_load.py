"""Semantic cache under load: the shared embedding service with two gateway workers.

    .venv/bin/python bench/semantic_load.py [--seconds 10] [--workers 2] [--embedder-nice N]

Needs REDIS_URL and wrk. Starts the fake upstream, one embedding service
(`manage.py embedder`) and the gateway (uvicorn, `--workers`), then:
- semantic-eligible unique traffic (temperature 0, a new prompt every request) at 16
  connections, with the semantic cache on and off: requests/s, and semantic lookups
  actually performed per second (gateway_semantic_lookups_total) and skipped, by reason;
- the same at 1 connection: p50 with the cache on minus p50 with it off (the lookup's cost);
- where the CPU went during the 16-connection runs: cores used by the workers, the
  embedding service, PostgreSQL, the fake upstream, Redis and wrk (/proc, by command line);
- RSS of each worker and of the embedding service (ps);
- a warm start: the gateway restarted beside the running service, the time from its
  start to its first semantic hit.
`--embedder-nice -10` runs the service at that niceness (a larger CPU share; a negative
value needs root): the trade between lookups/s and requests/s (docs/operations.md).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import create_key, start_gateway  # noqa: E402
from wrk import run_wrk  # noqa: E402

from tests.fakes.runner import FakeUpstream  # noqa: E402

BODY = '{"model": "gpt-4o", "temperature": 0, "messages": [{"role": "user", "content": "%s"}]}'
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def config_file(semantic: bool) -> str:
    raw = yaml.safe_load(open(ROOT / "config" / "gateway.yaml"))
    raw["cache"]["semantic"]["enabled"] = semantic
    handle = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    yaml.safe_dump(raw, handle)
    return handle.name


def metric_values(url: str) -> dict[str, float]:
    text = OPENER.open(f"{url}/metrics", timeout=5).read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(r'(gateway_semantic_(?:lookups|skipped|stores_dropped)_total)(\{reason="(\w+)"\})? ([0-9.e+]+)', line)
        if match:
            name = match.group(1).removeprefix("gateway_semantic_").removesuffix("_total")
            values[name + (f":{match.group(3)}" if match.group(3) else "")] = float(match.group(4))
    return values


def chat(url: str, key: str, text: str) -> str:
    body = BODY.replace("%s", text).encode()
    request = urllib.request.Request(f"{url}/v1/chat/completions", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with OPENER.open(request, timeout=10) as response:
        return response.headers.get("X-Cache", "")


CPU_KINDS = {"embedder": "embedding service", "spawn_main": "workers", "uvicorn": "workers", "postgres": "PostgreSQL",
             "tests.fakes": "fake upstream", "redis-server": "Redis", "valkey": "Redis", "wrk": "wrk"}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> dict[int, tuple[str, float]]:
    """Every process's (kind, CPU seconds so far), the kind read from its command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            kind = next((label for needle, label in CPU_KINDS.items() if needle in command), None)
            if kind:
                found[int(entry.name)] = (kind, (int(fields[11]) + int(fields[12])) / TICKS)
    return found


def cores_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], seconds: float) -> dict[str, float]:
    """Cores each kind of process used between two snapshots (wrk exits before the second:
    its share is not seen)."""
    used: dict[str, float] = {}
    for pid, (kind, spent) in after.items():
        used[kind] = used.get(kind, 0.0) + (spent - before.get(pid, (kind, 0.0))[1]) / seconds
    return used


def rss_mb(pid: int) -> float:
    return int(subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True).stdout.strip() or 0) / 1024


def workers_of(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(child) for child in out]


def wait_for_service(env: dict[str, str]) -> None:
    probe = "from apps.cache.embedding_client import probe; import sys; sys.exit(probe() != 'ok')"
    deadline = time.monotonic() + 180
    while subprocess.run([sys.executable, "-c", f"import django; django.setup(); {probe}"], cwd=ROOT, env=env).returncode:
        if time.monotonic() > deadline:
            raise SystemExit("the embedding service did not start")
        time.sleep(0.5)


def run_traffic(url: str, key: str, connections: int, seconds: float):
    before, cpu_before, started = metric_values(url), cpu_seconds(), time.monotonic()
    result = run_wrk(f"{url}/v1/chat/completions", body_template=BODY, prompt=f"Unique question {uuid.uuid4().hex[:8]} number", connections=connections,
                     seconds=seconds, headers={"Authorization": f"Bearer {key}"}, unique=True, threads=2 if connections > 1 else 1)
    cores = cores_used(cpu_before, cpu_seconds(), time.monotonic() - started)
    after = metric_values(url)
    delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
    delta["cores"] = cores
    return result, delta


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--embedder-nice", type=int, default=0, help="the embedding service's niceness")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="semantic-load-"))
    with FakeUpstream() as fake:
        env = {**os.environ, **fake.env(), "GATEWAY_EMBEDDER_URL": f"unix://{work / 'embedder.sock'}",
               "GATEWAY_METRICS_ALLOWED_IPS": "127.0.0.1", "DJANGO_SETTINGS_MODULE": "gateway_site.settings"}
        key = create_key(env)
        service = subprocess.Popen([sys.executable, "manage.py", "embedder"], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if args.embedder_nice:
            os.setpriority(os.PRIO_PROCESS, service.pid, args.embedder_nice)
        try:
            wait_for_service(env)
            measure(env, key, service, work, args)
        finally:
            service.terminate()
            service.wait()


def measure(env: dict[str, str], key: str, service: subprocess.Popen, work: Path, args) -> None:
    rows = []
    for semantic in (True, False):
        metrics_dir = work / f"metrics-{semantic}"
        metrics_dir.mkdir()
        mode_env = {**env, "GATEWAY_CONFIG": config_file(semantic), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        gateway, url = start_gateway(mode_env, "uvicorn", args.workers)
        try:
            run_traffic(url, key, 4, 2)  # warm-up: connections, imports
            one, _ = run_traffic(url, key, 1, args.seconds)
            many, counted = run_traffic(url, key, 16, args.seconds)
            rss = [rss_mb(pid) for pid in workers_of(gateway.pid)]
            rows.append((semantic, one, many, counted, rss))
        finally:
            gateway.terminate()
            gateway.wait()
    print(f"# {args.workers} workers, one embedding service; semantic-eligible unique prompts; {args.seconds:g} s per run\n")
    print("| semantic cache | connections | requests/s | p50 ms | p99 ms | lookups/s performed | skipped/s (by reason) | errors |")
    print("|---|---:|---:|---:|---:|---:|---|---:|")
    for semantic, one, many, counted, _ in rows:
        for connections, result, delta in ((1, one, None), (16, many, counted)):
            lookups = f"{delta.get('lookups', 0) / args.seconds:.0f}" if delta else ""
            skipped = ", ".join(f"{name.split(':')[1]} {value / args.seconds:.0f}" for name, value in (delta or {}).items()
                                if name.startswith("skipped:") and value)
            print(f"| {'on' if semantic else 'off'} | {connections} | {result.rps:.0f} | {result.p50_ms:.2f} | "
                  f"{result.p99_ms:.2f} | {lookups} | {skipped} | {result.errors} |")
    on, off = rows[0], rows[1]
    for semantic, _, _, counted, _ in rows:
        cores = sorted(counted["cores"].items(), key=lambda item: -item[1])
        print(f"\ncores used at 16 connections, semantic cache {'on' if semantic else 'off'}: "
              + ", ".join(f"{kind} {used:.2f}" for kind, used in cores if used >= 0.005), end="")
    dropped = {name.split(':')[1]: value / args.seconds for name, value in on[3].items() if name.startswith("stores_dropped:") and value}
    print("\nsemantic stores dropped/s at 16 connections: " + (", ".join(f"{k} {v:.0f}" for k, v in dropped.items()) or "none"))
    print(f"\nrequests/s at 16 connections, on / off: {on[2].rps / off[2].rps:.0%}; "
          f"added p50 at 1 connection: {on[1].p50_ms - off[1].p50_ms:.2f} ms")
    print(f"RSS MB: workers (semantic on) {', '.join(f'{mb:.0f}' for mb in on[4])}; "
          f"workers (off) {', '.join(f'{mb:.0f}' for mb in off[4])}; embedding service {rss_mb(service.pid):.0f}")
    warm_start(env, key, args.workers)


def warm_start(env: dict[str, str], key: str, workers: int) -> None:
    """Stores a question, restarts the gateway, and times its first semantic hit."""
    mode_env = {**env, "GATEWAY_CONFIG": config_file(True)}
    tag = uuid.uuid4().hex[:6]
    question = f"What is the capital of Peru? (ref {tag})"
    # A paraphrase that missed is stored in the exact cache: each attempt needs a new one.
    paraphrases = iter([f"{start} capital of {country} (ref {tag}){end}" for start in ("what's the", "whats the", "tell me the")
                        for country in ("Peru", "peru") for end in ("", "?", "!", ".")])
    gateway, url = start_gateway(mode_env, "uvicorn", workers)
    while chat(url, key, question) != "MISS":
        pass
    time.sleep(3)  # the store is written after the answer
    gateway.terminate()
    gateway.wait()
    started = time.monotonic()
    gateway, url = start_gateway(mode_env, "uvicorn", workers)
    live = time.monotonic()
    try:
        while chat(url, key, next(paraphrases, "what's the capital of Peru")) != "HIT-SEMANTIC":
            if time.monotonic() - started > 60:
                print("warm start: no semantic hit within 60 s")
                return
        print(f"warm start: first semantic hit {time.monotonic() - live:.2f} s after /health/live answered "
              f"({time.monotonic() - started:.2f} s after the gateway's processes were started)")
    finally:
        gateway.terminate()
        gateway.wait()


if __name__ == "__main__":
    main()

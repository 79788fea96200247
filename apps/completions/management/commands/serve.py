"""`make run`: migrate, make sure an admin key exists, then serve the ASGI app.

One process holds the embedded PostgreSQL for the server's lifetime, so Ctrl-C stops the
server and then the database cleanly. With REDIS_URL unset, this command first starts an
embedded Redis (var/redis) and runs itself again as a child with REDIS_URL pointing at it:
settings are read once per process, so the server's processes must see it from the start.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from gateway_site.embedded_redis import EmbeddedRedis, die_with_parent, embedded_redis_wanted
from gateway_site.worker_metrics import ENV_NAME as METRICS_DIR_ENV, SharedMetricsDirectory

SERVERS = ("uvicorn", "granian", "daphne")
EMBEDDER_START_TIMEOUT = 120.0  # seconds; past it the workers start and report "warming" until it answers


class Command(BaseCommand):
    help = "Migrates, creates a first admin key if none exists, and serves the gateway."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("GATEWAY_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("GATEWAY_WORKERS", "1")))
        parser.add_argument("--server", choices=SERVERS, default=os.environ.get("GATEWAY_SERVER", "uvicorn"))
        parser.add_argument("--demo", action="store_true", help="point every provider at the local fake upstream")
        # Replicas started together must not migrate at once: a deployment migrates in a job
        # of its own first (deploy/, docs/deployment.md) and serves with GATEWAY_MIGRATE=0.
        parser.add_argument("--no-migrate", dest="migrate", action="store_false",
                            default=os.environ.get("GATEWAY_MIGRATE", "1").strip().lower() not in ("0", "false", "no", "off"),
                            help="serve without migrating or making a first admin key (GATEWAY_MIGRATE=0)")
        parser.add_argument("--no-embedder", action="store_true",
                            help="do not start the embedding service (one runs as a sidecar at GATEWAY_EMBEDDER_URL)")

    def execute(self, *args, **options):
        if embedded_redis_wanted():
            return self._serve_beside_embedded_redis(options)
        return super().execute(*args, **options)

    def _serve_beside_embedded_redis(self, options: dict) -> None:
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "serve", "--host", options["host"],
                   "--port", str(options["port"]), "--workers", str(options["workers"]), "--server", options["server"]]
        command += ["--demo"] if options["demo"] else []
        command += [] if options["migrate"] else ["--no-migrate"]
        command += ["--no-embedder"] if options["no_embedder"] else []
        with EmbeddedRedis(settings.GATEWAY_DATA_DIR / "redis") as redis:
            self.stdout.write(f"Embedded Redis at {redis.url} (files in {redis.data_dir}; set REDIS_URL to use "
                              "your own, or REDIS_URL=none for none)")
            self.stdout.flush()
            server = subprocess.Popen(command, env={**os.environ, "REDIS_URL": redis.url}, preexec_fn=die_with_parent)
            # Ctrl-C reaches both processes; a SIGTERM for this one is passed on.
            signal.signal(signal.SIGTERM, lambda *_: server.terminate())
            while server.returncode is None:
                try:
                    server.wait()
                except KeyboardInterrupt:
                    pass  # the server got it too: wait for its shutdown, then stop Redis
        # uvicorn ends itself with the signal it was stopped by, once it has shut down.
        if server.returncode not in (0, -signal.SIGINT, -signal.SIGTERM):
            raise SystemExit(server.returncode)

    def handle(self, *args, **options) -> None:
        fake = self._start_demo_upstream() if options["demo"] else None
        embedder = None
        try:
            if options["migrate"]:
                call_command("migrate", verbosity=0, interactive=False)
                call_command("ensure_admin_key")
            embedder = None if options["no_embedder"] else self._start_embedder()
            self.stdout.write(f"Serving on http://{options['host']}:{options['port']} with {options['server']} (Ctrl-C stops)")
            if options["workers"] > 1:
                # Every worker writes its metrics where /metrics sums them (gateway_site/worker_metrics.py).
                with SharedMetricsDirectory(os.environ.get(METRICS_DIR_ENV)):
                    self._serve(options)
            else:
                self._serve(options)
        finally:
            if embedder is not None:
                embedder.terminate()
                embedder.wait(timeout=10)
            if fake is not None:
                fake.stop()

    def _start_embedder(self) -> subprocess.Popen | None:
        """The machine's embedding service, when the semantic cache is on and none answers yet;
        waits until its model is loaded, so the workers' first requests can use the cache."""
        from apps.cache.embedding_client import probe
        from gateway_site.gateway_config import get_config

        if not get_config().cache.semantic_enabled or probe() != "unavailable":
            return None
        command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "embedder", "--url", settings.GATEWAY_EMBEDDER_URL]
        process = subprocess.Popen(command, preexec_fn=die_with_parent)
        self.stdout.write(f"Embedding service starting at {settings.GATEWAY_EMBEDDER_URL} (first start exports the model, ~20 s)")
        self.stdout.flush()
        deadline = time.monotonic() + EMBEDDER_START_TIMEOUT
        while probe() != "ok" and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if process.poll() is not None:
            self.stderr.write("The embedding service exited: the semantic cache will be skipped")
            return None
        return process

    def _start_demo_upstream(self):
        from tests.fakes.runner import FakeUpstream

        fake = FakeUpstream().start()
        os.environ.update(fake.env())
        from gateway_site.gateway_config import set_config

        set_config(None)
        self.stdout.write(f"Demo mode: every provider is the fake upstream at {fake.url} (see tests/fakes/README.md)")
        return fake

    def _serve(self, options: dict) -> None:
        app = "gateway_site.asgi:application"
        host, port, workers = options["host"], options["port"], options["workers"]
        if options["server"] == "uvicorn":
            import uvicorn

            # X-Forwarded-For/-Proto are believed only from GATEWAY_TRUSTED_PROXIES (uvicorn's
            # default, 127.0.0.1, when unset): the client address and https come from them.
            uvicorn.run(app, host=host, port=port, workers=workers, loop="uvloop", http="httptools",
                        lifespan="on", access_log=False, log_level="info",
                        forwarded_allow_ips=os.environ.get("GATEWAY_TRUSTED_PROXIES") or None)
        elif options["server"] == "granian":
            from granian import Granian
            from granian.constants import Interfaces, Loops

            Granian(app, address=host, port=port, interface=Interfaces.ASGI, workers=workers, loop=Loops.uvloop).serve()
        else:
            from daphne.cli import CommandLineInterface

            CommandLineInterface().run(["-b", host, "-p", str(port), app])

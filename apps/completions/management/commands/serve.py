"""`make run`: migrate, make sure an admin key exists, then serve the ASGI app.

One process holds the embedded PostgreSQL for the server's lifetime, so Ctrl-C stops the
server and then the database cleanly.
"""

from __future__ import annotations

import os

from django.core.management import call_command
from django.core.management.base import BaseCommand

SERVERS = ("uvicorn", "granian", "daphne")


class Command(BaseCommand):
    help = "Migrates, creates a first admin key if none exists, and serves the gateway."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("GATEWAY_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("GATEWAY_WORKERS", "1")))
        parser.add_argument("--server", choices=SERVERS, default=os.environ.get("GATEWAY_SERVER", "uvicorn"))
        parser.add_argument("--demo", action="store_true", help="point every provider at the local fake upstream")

    def handle(self, *args, **options) -> None:
        fake = self._start_demo_upstream() if options["demo"] else None
        try:
            call_command("migrate", verbosity=0, interactive=False)
            call_command("ensure_admin_key")
            self.stdout.write(f"Serving on http://{options['host']}:{options['port']} with {options['server']} (Ctrl-C stops)")
            self._serve(options)
        finally:
            if fake is not None:
                fake.stop()

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

            uvicorn.run(app, host=host, port=port, workers=workers, loop="uvloop", http="httptools",
                        lifespan="on", access_log=False, log_level="info")
        elif options["server"] == "granian":
            from granian import Granian
            from granian.constants import Interfaces, Loops

            Granian(app, address=host, port=port, interface=Interfaces.ASGI, workers=workers, loop=Loops.uvloop).serve()
        else:
            from daphne.cli import CommandLineInterface

            CommandLineInterface().run(["-b", host, "-p", str(port), app])

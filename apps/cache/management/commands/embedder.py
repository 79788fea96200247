"""`manage.py embedder`: the machine's one embedding service, for the semantic cache.

`manage.py serve` starts it by itself; run it alone for a sidecar deployment
(`manage.py embedder --url tcp://0.0.0.0:7070`, GATEWAY_EMBEDDER_URL on the workers).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.cache import embedder
from apps.cache.embedding_protocol import parse_address
from apps.cache.embedding_service import aserve_forever


class Command(BaseCommand):
    requires_system_checks: list[str] = []  # the gateway's checks (provider keys, Redis) are not its concern
    help = "Serves sentence embeddings to the gateway's workers over a local socket."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default=settings.GATEWAY_EMBEDDER_URL,
                            help="unix:///path/to.sock or tcp://host:port (default: GATEWAY_EMBEDDER_URL)")
        parser.add_argument("--backend", choices=embedder.BACKENDS, default=None,
                            help="onnx (default) or torch (default: GATEWAY_EMBEDDER_BACKEND)")

    def handle(self, *args, **options) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        address = parse_address(options["url"])
        try:
            import uvloop

            uvloop.run(aserve_forever(address, backend=options["backend"]))
        except KeyboardInterrupt:
            pass

"""The ASGI application: gateway_site.asgi:application.

This is where the parts are put together: the front door (gateway_site/front_door.py)
gets the /v1/ routes, Django's application for every other path, the console's WebSocket
routes (channels), the metrics callback,
and the lifespan hooks: start-up installs a fresh per-process runtime; shutdown flushes
buffered usage records and closes the runtime's connections.
"""

import asyncio
import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")

from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from apps.cache.semantic import awarm_up as awarm_up_semantic_cache  # noqa: E402  (the apps need Django set up)
from apps.completions.urls import api_routes  # noqa: E402
from apps.console.routing import websocket_urlpatterns  # noqa: E402
from apps.embeddings.urls import api_routes as embedding_routes  # noqa: E402
from apps.stats.metrics import observe_request, unhandled_error  # noqa: E402
from apps.stats.usage import aflush_all  # noqa: E402
from gateway_site import events, runtime, tracing  # noqa: E402
from gateway_site.access_log import json_access_log  # noqa: E402
from gateway_site.front_door import FrontDoor, observe_unhandled_with  # noqa: E402


_background: set[asyncio.Task] = set()  # asyncio keeps only weak references to tasks


async def startup() -> None:
    runtime.install(runtime.Runtime())
    # Everything loaded so far lives as long as the process: keep the garbage collector
    # from walking it on every full collection (shorter pauses under load).
    gc.freeze()
    # Hear key revocations and config reloads from the first moment, not the first request.
    events.ensure_listener()
    # Connect to the embedding service and read the verifier's dictionary now, not in the
    # first lookups' budgets (in the background: start-up is not held by either).
    _background.add(asyncio.get_running_loop().create_task(awarm_up_semantic_cache()))
    # In each worker process: the span exporter's thread would not survive a fork.
    tracing.configure_from_environment()


async def shutdown() -> None:
    try:
        await aflush_all()
    finally:
        await runtime.runtime().aclose()
        tracing.shutdown()  # exports the spans still batched


observe_unhandled_with(unhandled_error)
application = FrontDoor(
    api_routes=[*api_routes, *embedding_routes],
    django_app=django_application,
    # The console's live dashboard: the session cookie names the staff user; only pages of
    # this host may open the socket (no cross-site WebSocket hijacking).
    websocket_app=AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    observe=observe_request,
    max_body_bytes=lambda: settings.GATEWAY_MAX_BODY_BYTES,
    startup=startup,
    shutdown=shutdown,
    access_log=json_access_log if settings.GATEWAY_ACCESS_LOG == "json" else None,
)

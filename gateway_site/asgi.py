"""The ASGI application: gateway_site.asgi:application.

/v1/ goes to the gateway's own router (gateway_site/api_asgi.py says why), everything
else to Django. Django's handler speaks only HTTP; this wrapper also answers the lifespan
protocol so the server's shutdown flushes buffered usage records and closes upstream
connections.
"""

import logging
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_application = get_asgi_application()

from gateway_site.api_asgi import serve_api  # noqa: E402  (needs Django set up)

API_PREFIX = "/v1/"
logger = logging.getLogger("gateway.lifespan")


async def _startup() -> None:
    import gc

    from gateway_site import events

    # Everything loaded so far lives as long as the process: keep the garbage collector
    # from walking it on every full collection (shorter pauses under load).
    gc.freeze()
    # Hear key revocations and config reloads from the first moment, not the first request.
    events.ensure_listener()


async def _shutdown() -> None:
    from apps.completions.providers.base import close_sessions
    from apps.stats.usage import aflush_all

    await aflush_all()
    await close_sessions()


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
        return await serve_api(scope, receive, send)
    if scope["type"] != "lifespan":
        return await django_application(scope, receive, send)
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await _startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await _shutdown()
            except Exception:
                logger.exception("shutdown flush failed")
            await send({"type": "lifespan.shutdown.complete"})
            return

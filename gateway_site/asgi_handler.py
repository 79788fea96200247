"""Django's ASGI handler, without its per-request thread hops on the API path.

Django wraps every request in a ThreadSensitiveContext and calls `response.close()` and
the request_started receivers through sync_to_async: under load that is a new thread per
request, created and joined, plus two hops to it (about a tenth of the CPU of a streamed
completion, measured with py-spy). The /v1/ views are async end to end and touch no
database connection on the event loop's thread, so for them the same steps run inline.
Every other path (admin console, DRF views) keeps Django's handling unchanged.
"""

from __future__ import annotations

import asyncio

from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.urls import set_script_prefix

ASYNC_ONLY_PREFIXES = ("/v1/",)


class GatewayASGIHandler(ASGIHandler):
    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(ASYNC_ONLY_PREFIXES):
            await self.handle_async_only(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def handle_async_only(self, scope, receive, send) -> None:
        """ASGIHandler.handle (Django 5.2) with the thread hops replaced by inline calls:
        the receivers (close_old_connections, cache close) find nothing to do on the event
        loop's thread, which never holds a database connection."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            error_response.close()
            return

        async def process_request():
            response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                pass  # the client went away while we were sending
            return response

        disconnect = asyncio.create_task(self.listen_for_disconnect(receive))
        processing = asyncio.create_task(process_request())
        await asyncio.wait((disconnect, processing), return_when=asyncio.FIRST_COMPLETED)
        for task in (disconnect, processing):
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
            else:
                task.cancel()  # a disconnect cancels the view: a stream closes its upstream
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        try:
            response = processing.result()
        except asyncio.CancelledError:
            signals.request_finished.send(sender=self.__class__)
        else:
            response.close()
        body_file.close()


def get_gateway_asgi_application() -> GatewayASGIHandler:
    import django

    django.setup(set_prefix=False)
    return GatewayASGIHandler()


__all__ = ["GatewayASGIHandler", "get_gateway_asgi_application"]

"""The ASGI application called in process, the way the server calls it: for tests that
patch code or settings, which a served gateway (tests/gateway_server.py) cannot see."""

from __future__ import annotations

import asyncio

import httpx


class AsgiClient:
    """Sync methods; each call runs on a fresh event loop and returns an httpx.Response."""

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        from gateway_site.asgi import application

        async def call() -> httpx.Response:
            from apps.completions.providers.base import UpstreamSession
            from gateway_site.runtime import part

            transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 40000))
            try:
                async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                    return await client.request(method, path, **kwargs)
            finally:
                await part(UpstreamSession).aclose()  # the upstream connections belong to this loop, about to end

        return asyncio.run(call())

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.request("POST", path, **kwargs)

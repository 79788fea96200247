"""Rate-limit headers on the Django-served answers to an API key (/stats, the admin API):
those endpoints do not count against the limit, so they show its state without counting."""

from __future__ import annotations

from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from apps.keys.limiter import arate_limit_peek


class RateLimitHeadersMiddleware:
    async_capable = True
    sync_capable = False

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        response = await self.get_response(request)
        key = getattr(request, "api_key", None)  # set by ApiKeyAuthentication
        if key is not None and "X-RateLimit-Limit" not in response:
            for name, value in (await arate_limit_peek(key)).items():
                response[name] = value
        return response

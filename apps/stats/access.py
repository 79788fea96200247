"""Who may read /metrics: an admin key, or a scraper from an allow-listed IP."""

from __future__ import annotations

from django.conf import settings
from rest_framework.permissions import BasePermission

from apps.keys.authentication import ApiKeyAuthentication, IsAdminKey


def client_ip_allowed(request) -> bool:
    # REMOTE_ADDR as the server saw it. Behind a proxy, list the proxy's address only if
    # the server rewrites REMOTE_ADDR from X-Forwarded-For for trusted proxies (uvicorn
    # does for --forwarded-allow-ips); the header itself is never trusted here.
    return request.META.get("REMOTE_ADDR", "") in settings.GATEWAY_METRICS_ALLOWED_IPS


class MetricsAuthentication(ApiKeyAuthentication):
    """An allow-listed address needs no key; any other caller must present one."""

    def authenticate(self, request):
        if client_ip_allowed(request._request):
            return None
        return super().authenticate(request)


class MetricsAccess(BasePermission):
    def has_permission(self, request, view) -> bool:
        if client_ip_allowed(request._request):
            return True
        return IsAdminKey().has_permission(request, view)

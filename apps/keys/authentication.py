"""Reading the API key from a request: `X-API-Key: <key>` or `Authorization: Bearer <key>`."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from apps.keys.registry import KeyInfo, akey_lookup, key_lookup
from gateway_site.errors import PermissionDenied


def raw_key_from_headers(meta: dict) -> str:
    key = meta.get("HTTP_X_API_KEY", "")
    if key:
        return key.strip()
    authorization = meta.get("HTTP_AUTHORIZATION", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    return ""


async def aauthenticate(request) -> KeyInfo:
    """For the async views; raises InvalidApiKey."""
    key = await akey_lookup(raw_key_from_headers(request.META))
    request.api_key = key
    return key


class KeyPrincipal:
    """DRF's request.user for a key: authenticated, never a Django user."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: KeyInfo) -> None:
        self.key = key


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        key = key_lookup(raw_key_from_headers(request.META))
        request._request.api_key = key
        return KeyPrincipal(key), key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return 'Bearer realm="api"'


class IsAdminKey(BasePermission):
    def has_permission(self, request, view) -> bool:
        if request.auth is None or not request.auth.is_admin:
            raise PermissionDenied("This endpoint needs an admin API key")
        return True

"""Reading the API key from a request: `X-API-Key: <key>` or `Authorization: Bearer <key>`."""

from __future__ import annotations

from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from apps.keys.registry import KeyInfo, akey_lookup, key_lookup
from gateway_site.errors import PermissionDenied


def raw_key_from(x_api_key: str, authorization: str) -> str:
    if x_api_key:
        return x_api_key.strip()
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    return ""


async def aauthenticate(headers: dict[str, str]) -> KeyInfo:
    """For the /v1/ views (header names in lower case); raises InvalidApiKey."""
    return await akey_lookup(raw_key_from(headers.get("x-api-key", ""), headers.get("authorization", "")))


class KeyPrincipal:
    """DRF's request.user for a key: authenticated, never a Django user."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, key: KeyInfo) -> None:
        self.key = key


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        meta = request.META
        key = key_lookup(raw_key_from(meta.get("HTTP_X_API_KEY", ""), meta.get("HTTP_AUTHORIZATION", "")))
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

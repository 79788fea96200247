"""DRF's EXCEPTION_HANDLER: DRF exceptions become the contract's error shape."""

from __future__ import annotations

from rest_framework import exceptions as drf

from gateway_site.errors import (
    GatewayError,
    InvalidApiKey,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PermissionDenied,
    RateLimitExceeded,
)
from gateway_site.middleware import exception_response


def api_exception_handler(exc: Exception, context: dict):
    request = context["request"]._request
    return exception_response(to_gateway_error(exc), request)


def to_gateway_error(exc: Exception) -> Exception:
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        return InvalidApiKey()
    if isinstance(exc, drf.PermissionDenied):
        return PermissionDenied(_message(exc, PermissionDenied.default_message))
    if isinstance(exc, drf.NotFound):
        return NotFound()
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowed(_message(exc, MethodNotAllowed.default_message))
    if isinstance(exc, drf.Throttled):
        return RateLimitExceeded()
    if isinstance(exc, drf.ValidationError):
        return InvalidRequest(_validation_message(exc.detail))
    if isinstance(exc, drf.APIException):
        return InvalidRequest(_message(exc, "Invalid request"))
    return exc


def _message(exc: drf.APIException, default: str) -> str:
    return str(exc.detail) if isinstance(exc.detail, str) else default


def _validation_message(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{field}: {_validation_message(value)}" for field, value in detail.items())
    if isinstance(detail, list):
        return " ".join(_validation_message(item) for item in detail)
    return str(detail)

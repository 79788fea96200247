"""The one error hierarchy of the gateway.

Every error a client can see is a `GatewayError`; `render_error_body` turns it into the
contract's shape in exactly one place (used by the async views, the middleware and DRF's
exception handler).
"""

from __future__ import annotations

import datetime as dt

from gateway_site.redaction import redact


class GatewayError(Exception):
    status = 500
    code = "internal_error"
    type = "server_error"
    default_message = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.param = param
        self.headers = dict(headers or {})
        super().__init__(self.message)


class InvalidApiKey(GatewayError):
    status, code, type = 401, "invalid_api_key", "authentication_error"
    default_message = "Invalid API key provided"


class PermissionDenied(GatewayError):
    status, code, type = 403, "permission_denied", "permission_error"
    default_message = "This API key is not allowed to do that"


class RateLimitExceeded(GatewayError):
    status, code, type = 429, "rate_limit_exceeded", "rate_limit_error"
    default_message = "Rate limit exceeded"


class BudgetExceeded(GatewayError):
    # insufficient_quota is what OpenAI answers for an exhausted quota; its SDKs know it.
    status, code, type = 429, "budget_exceeded", "insufficient_quota"
    default_message = "Budget exceeded"


class InvalidRequest(GatewayError):
    status, code, type = 400, "invalid_request", "invalid_request_error"
    default_message = "Invalid request"


class ModelNotFound(GatewayError):
    status, code, type = 400, "model_not_found", "invalid_request_error"
    default_message = "Model not found"


class NotFound(GatewayError):
    status, code, type = 404, "not_found", "invalid_request_error"
    default_message = "Not found"


class MethodNotAllowed(GatewayError):
    status, code, type = 405, "method_not_allowed", "invalid_request_error"
    default_message = "Method not allowed"


class PayloadTooLarge(GatewayError):
    status, code, type = 413, "invalid_request", "invalid_request_error"
    default_message = "Request body too large"


class ProviderError(GatewayError):
    """The upstream failed after retries and fallbacks, or answered garbage."""

    status, code, type = 502, "provider_error", "api_error"
    default_message = "The upstream provider failed"


class ProviderTimeout(GatewayError):
    status, code, type = 504, "provider_timeout", "api_error"
    default_message = "The upstream provider did not answer in time"


class ServiceUnavailable(GatewayError):
    status, code, type = 503, "service_unavailable", "api_error"
    default_message = "Service unavailable"


class InternalError(GatewayError):
    pass


def utc_timestamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_error_body(error: GatewayError, request_id: str) -> dict:
    # `param` is included because the OpenAI SDKs expect the four OpenAI error fields.
    return {
        "error": {
            "code": error.code,
            "message": redact(error.message),  # an upstream's message may echo our credentials
            "type": error.type,
            "param": error.param,
        },
        "timestamp": utc_timestamp(),
        "request_id": request_id,
    }

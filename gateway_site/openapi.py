"""drf-spectacular hook adding what every operation shares: the security schemes and the
contract's error schema and responses. (The /v1/ endpoints, which DRF cannot see, are
added by apps/completions/openapi.py's hook, listed before this one in settings.)"""

from __future__ import annotations

import secrets

from drf_spectacular.views import SpectacularRedocView

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "timestamp", "request_id"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "type"],
            "properties": {
                "code": {"type": "string", "example": "invalid_api_key"},
                "message": {"type": "string"},
                "type": {"type": "string", "example": "authentication_error"},
                "param": {"type": "string", "nullable": True},
            },
        },
        "timestamp": {"type": "string", "format": "date-time"},
        "request_id": {"type": "string", "example": "req_1234567890"},
    },
}

SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerAuth": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key> (OpenAI SDKs)"},
}

ERROR_RESPONSES = {
    "400": "invalid_request / model_not_found",
    "401": "invalid_api_key",
    "403": "permission_denied",
    "429": "rate_limit_exceeded",
    "500": "internal_error",
}


def _error_response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def add_contract_parts(result: dict, generator, request, public) -> dict:
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    result["security"] = [{"ApiKeyHeader": []}, {"BearerAuth": []}]
    for path_item in result["paths"].values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            if operation.get("security") == [{}] or operation.get("security") == []:
                continue  # public probes
            operation.pop("security", None)  # use the document-wide schemes
            for status, description in ERROR_RESPONSES.items():
                operation["responses"].setdefault(status, _error_response(description))
    return result


class OfflineRedocView(SpectacularRedocView):
    """/redoc with a Content-Security-Policy that keeps every request on the gateway's own
    origin: Redoc's bundle fetches a logo from cdn.redoc.ly, which the policy refuses (the
    image hides itself), and the page works on a machine without internet."""

    def get(self, request, *args, **kwargs):
        nonce = secrets.token_urlsafe(16)
        response = super().get(request, *args, **kwargs)
        response.data["csp_nonce"] = nonce
        response["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        )
        return response

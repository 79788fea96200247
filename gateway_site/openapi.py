"""drf-spectacular hook adding what every operation shares: the security schemes (and which
endpoints need which key), the contract's error schema, and each operation's error
responses with one example per error code, rendered by the same code that answers them.
(The /v1/ endpoints, which DRF cannot see, are added by apps/completions/openapi.py's hook,
listed before this one in settings.)

An operation names the errors it can answer with `contract_errors(...)`: in a DRF view,
`extend_schema(extensions=contract_errors(...))`; in a hand-written operation, spread into
its dict. Without one, an authenticated operation documents 401 and 500 only."""

from __future__ import annotations

import secrets
from collections import defaultdict

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView

from gateway_site.errors import (
    BudgetExceeded, GatewayError, InternalError, InvalidApiKey, InvalidRequest, ModelNotFound, NotFound,
    PayloadTooLarge, PermissionDenied, ProviderError, ProviderTimeout, RateLimitExceeded, ServiceUnavailable,
    render_error_body,
)

ERRORS_KEY, ADMIN_KEY = "x-gateway-errors", "x-gateway-admin-key"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "timestamp", "request_id"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "type"],
            "properties": {
                "code": {"type": "string", "description": "Stable, for programs: invalid_request, model_not_found, "
                         "invalid_api_key, permission_denied, not_found, rate_limit_exceeded, budget_exceeded, "
                         "internal_error, provider_error, service_unavailable, provider_timeout."},
                "message": {"type": "string", "description": "For people; secrets redacted."},
                "type": {"type": "string", "description": "OpenAI's error type, which the OpenAI SDKs read."},
                "param": {"type": "string", "nullable": True, "description": "The request field at fault, if one is."},
            },
        },
        "timestamp": {"type": "string", "format": "date-time"},
        "request_id": {"type": "string", "description": "Also in the X-Request-ID header; quote it when reporting a problem."},
    },
}

_KEYS_TEXT = """
| Endpoints | Key |
|---|---|
| `GET /health/live`, `GET /health/ready`, `/openapi.json`, `/docs`, `/redoc` | none (public) |
| `/v1/*` (chat completions, embeddings, responses, messages, models), `GET /health` | any active key |
| `GET /stats`, `/admin/api/*` (and `/admin/cache/*`, `/admin/reload-config`) | an **admin** key (`is_admin`); another key gets 403 `permission_denied` |
| `GET /metrics` | an **admin** key, or a client address in `GATEWAY_METRICS_ALLOWED_IPS` |

The console (`/admin/` pages) uses a staff user's session instead, not a key.
"""

SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                     "description": "The gateway's API key in `X-API-Key`.\n" + _KEYS_TEXT},
    "BearerAuth": {"type": "http", "scheme": "bearer",
                   "description": "The same key as `Authorization: Bearer <key>` (what the OpenAI SDKs send)."},
}

# One example per error code, made from the error classes the gateway raises: what the
# reference shows is what a client receives (the messages are real ones, with sample values).
ERROR_EXAMPLES: dict[str, GatewayError] = {
    "invalid_request": InvalidRequest("'messages' is a required property", param="messages"),
    "model_not_found": ModelNotFound("The model 'gpt-5-nano' does not exist or is not served by this gateway", param="model"),
    "invalid_api_key": InvalidApiKey(),
    "permission_denied": PermissionDenied("This API key may not use the model 'gpt-4o'", param="model"),
    "admin_key_required": PermissionDenied("This endpoint needs an admin API key"),
    "not_found": NotFound("The model 'gpt-5-nano' does not exist", param="model"),
    "request_too_large": PayloadTooLarge("Request body exceeds the limit of 1048576 bytes"),
    "rate_limit_exceeded": RateLimitExceeded(
        "Rate limit exceeded: 10 requests per minute for this key; retry after the Retry-After delay"),
    "budget_exceeded": BudgetExceeded(
        "Budget exceeded: the team 'checkout' has spent its budget of $50.00 per month; it resets at 2026-12-01T00:00:00Z"),
    "internal_error": InternalError(),
    "provider_error": ProviderError("openai failed to answer for gpt-4o (HTTP 500): The server had an error"),
    "service_unavailable": ServiceUnavailable("Budgets cannot be checked just now, so requests are refused; retry shortly"),
    "provider_timeout": ProviderTimeout("No answer for gpt-4o within the request's time limit"),
}
_STATUS_TEXT = {400: "Bad request", 401: "No valid API key", 403: "Not allowed", 404: "Not found",
                413: "Request body too large", 429: "Refused: rate limit or budget", 500: "Internal error",
                502: "The provider failed", 503: "A dependency is unavailable", 504: "The provider did not answer in time"}
DEFAULT_ERRORS = ("invalid_api_key", "internal_error")
# What a request through admit() to a provider can answer (chat, embeddings, responses).
COMPLETION_ERRORS = (
    "invalid_request", "model_not_found", "invalid_api_key", "permission_denied", "request_too_large",
    "rate_limit_exceeded", "budget_exceeded", "internal_error", "provider_error", "service_unavailable",
    "provider_timeout",
)
_ADMIN_NOTE = "**Needs an admin API key** (403 `permission_denied` for any other key)."


def contract_errors(*codes: str, admin: bool = False) -> dict:
    """The errors an operation can answer (names of ERROR_EXAMPLES); `admin`: it needs an
    admin key. The hook below turns these into responses and removes the markers."""
    unknown = set(codes) - ERROR_EXAMPLES.keys()
    assert not unknown, f"no example for {unknown}"
    return {ERRORS_KEY: list(codes), ADMIN_KEY: admin}


def error_responses(codes) -> dict[str, dict]:
    """OpenAPI responses for these error codes: one per status, one named example per code."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in codes:
        by_status[ERROR_EXAMPLES[code].status].append(code)
    responses = {}
    for status, names in sorted(by_status.items()):
        examples = {
            name: {"summary": f"{ERROR_EXAMPLES[name].code}: {ERROR_EXAMPLES[name].message[:60]}",
                   "value": {**render_error_body(ERROR_EXAMPLES[name], "req_7f3c9a1e2b4d4c6f"), "timestamp": "2026-11-29T10:15:00Z"}}
            for name in names
        }
        codes_text = ", ".join(sorted({ERROR_EXAMPLES[name].code for name in names}))
        responses[str(status)] = {
            "description": f"{_STATUS_TEXT.get(status, 'Error')}: {codes_text}",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}, "examples": examples}},
        }
    return responses


def add_contract_parts(result: dict, generator, request, public) -> dict:
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    result["security"] = [{"ApiKeyHeader": []}, {"BearerAuth": []}]
    for path_item in result["paths"].values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = operation.pop(ERRORS_KEY, None)
            admin = operation.pop(ADMIN_KEY, False)
            if operation.get("security") in ([{}], []):
                continue  # public probes
            operation.pop("security", None)  # use the document-wide schemes
            if admin:
                operation["description"] = f"{_ADMIN_NOTE}\n\n{operation.get('description', '')}".strip()
            for status, response in error_responses(DEFAULT_ERRORS if codes is None else codes).items():
                operation["responses"].setdefault(status, response)
    return result


class OfflineRedocView(SpectacularRedocView):
    """/redoc with a Content-Security-Policy that keeps every request on the gateway's own
    origin: Redoc's bundle fetches a logo from cdn.redoc.ly, which the policy refuses (the
    image hides itself), and the page works on a machine without internet."""

    @extend_schema(exclude=True)  # the page itself is no API operation
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


# The request header every cached endpoint takes (chat, embeddings).
CACHE_CONTROL_PARAMETER = {
    "name": "Cache-Control", "in": "header", "required": False,
    "schema": {"type": "string", "enum": ["no-cache", "no-store"]},
    "description": "no-cache skips cache reads; no-store skips reads and writes.",
}

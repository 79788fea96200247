"""Hand-written OpenAPI for the async endpoints (DRF's schema generator cannot see them).
The request body is OpenAI's own schema, the one the gateway validates with
(request_schema.py): what is documented is what is enforced."""

from __future__ import annotations

from apps.completions.ingress.responses_openapi import RESPONSES_COMPONENTS, RESPONSES_PATHS
from apps.completions.request_schema import COMPONENTS, ROOT

_MODEL = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["model"]},
        "created": {"type": "integer"},
        "owned_by": {"type": "string"},
    },
}

CHAT_COMPONENTS = {
    "Model": _MODEL,
    "ChatCompletion": {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["chat.completion"]},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {"type": "array", "items": {"type": "object"}},
            "usage": {
                "type": "object",
                "properties": {
                    "prompt_tokens": {"type": "integer"},
                    "completion_tokens": {"type": "integer"},
                    "total_tokens": {"type": "integer"},
                },
            },
        },
    },
    "ModelList": {
        "type": "object",
        "properties": {
            "object": {"type": "string", "enum": ["list"]},
            "data": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Model"},
            },
        },
    },
}

_HEADERS = {
    "X-Request-ID": {"schema": {"type": "string"}},
    "X-Cache": {"schema": {"type": "string", "enum": ["HIT-EXACT", "HIT-SEMANTIC", "MISS"]}},
    "X-RateLimit-Limit": {"schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"schema": {"type": "integer"}},
}

CHAT_PATHS = {
    "/v1/chat/completions": {
        "post": {
            "operationId": "chat_completions_create",
            "summary": "Create a chat completion (OpenAI-compatible, streaming with stream: true)",
            "tags": ["v1"],
            "parameters": [
                {"name": "Cache-Control", "in": "header", "required": False,
                 "schema": {"type": "string", "enum": ["no-cache", "no-store"]},
                 "description": "no-cache skips cache reads; no-store skips reads and writes."},
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ROOT}"}}},
            },
            "responses": {
                "200": {
                    "description": "A chat.completion object, or an SSE stream of chat.completion.chunk objects ending with [DONE].",
                    "headers": _HEADERS,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletion"}},
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                "502": {"description": "provider_error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "504": {"description": "provider_timeout", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }
    },
    "/v1/models": {
        "get": {
            "operationId": "models_list",
            "summary": "List the models this gateway serves",
            "tags": ["v1"],
            "responses": {
                "200": {"description": "OpenAI list shape", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ModelList"}}}},
            },
        }
    },
    "/v1/models/{model_id}": {
        "get": {
            "operationId": "models_retrieve",
            "summary": "One model this key may use",
            "tags": ["v1"],
            "parameters": [{"name": "model_id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "200": {"description": "OpenAI model object", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Model"}}}},
                "404": {"description": "not_found", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }
    },
}

# The Anthropic Messages API (docs/anthropic-messages.md); its errors are Anthropic's shape.
MESSAGES_COMPONENTS = {
    "AnthropicError": {
        "type": "object",
        "required": ["type", "error"],
        "properties": {
            "type": {"type": "string", "enum": ["error"]},
            "error": {"type": "object", "required": ["type", "message"],
                      "properties": {"type": {"type": "string", "example": "invalid_request_error"}, "message": {"type": "string"}}},
        },
    },
    "MessagesRequest": {
        "type": "object",
        "required": ["model", "max_tokens", "messages"],
        "properties": {
            "model": {"type": "string", "example": "claude-sonnet-4-20250514"},
            "max_tokens": {"type": "integer", "minimum": 1},
            "messages": {"type": "array", "minItems": 1, "items": {"type": "object"}},
            "system": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
            "stream": {"type": "boolean"},
            "tools": {"type": "array", "items": {"type": "object"}},
            "tool_choice": {"type": "object"},
            "stop_sequences": {"type": "array", "items": {"type": "string"}},
            "temperature": {"type": "number"}, "top_p": {"type": "number"}, "top_k": {"type": "integer"},
            "metadata": {"type": "object"},
        },
    },
}
_ANTHROPIC_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/AnthropicError"}}}
_MESSAGES_ERRORS = {str(status): {"description": kind, "content": _ANTHROPIC_ERROR} for status, kind in (
    (400, "invalid_request_error"), (401, "authentication_error"), (404, "not_found_error (unknown model)"),
    (429, "rate_limit_error"), (502, "api_error"))}
MESSAGES_PATHS = {
    "/v1/messages": {
        "post": {
            "operationId": "messages_create",
            "summary": "Create a message (Anthropic Messages API, any model; SSE events with stream: true)",
            "tags": ["v1"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MessagesRequest"}}}},
            "responses": {
                "200": {"description": "A message object, or Anthropic's SSE event sequence.", "headers": _HEADERS,
                        "content": {"application/json": {"schema": {"type": "object"}}, "text/event-stream": {"schema": {"type": "string"}}}},
                **_MESSAGES_ERRORS,
            },
        }
    },
    "/v1/messages/count_tokens": {
        "post": {
            "operationId": "messages_count_tokens",
            "summary": "Count a Messages request's input tokens (Claude: Anthropic's count; others: an estimate)",
            "tags": ["v1"],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/MessagesRequest"}}}},
            "responses": {
                "200": {"description": "{input_tokens}", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"input_tokens": {"type": "integer"}}}}}},
                **_MESSAGES_ERRORS,
            },
        }
    },
}


def _openapi_30(node):
    """OpenAI's file mixes OpenAPI 3.1's `{"type": "null"}` alternative with 3.0's `nullable`;
    this document is 3.0.3, so the alternative becomes `nullable` too (and 3.0 wants no empty
`required`)."""
    if isinstance(node, list):
        return [_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _openapi_30(value) for key, value in node.items() if not (key == "required" and value == [])}
    alternatives = node.get("anyOf") or node.get("oneOf") or []
    others = [schema for schema in alternatives if schema != {"type": "null"}]
    if len(others) == len(alternatives) - 1 and others:
        keyword = "anyOf" if "anyOf" in node else "oneOf"
        rest = {key: value for key, value in node.items() if key != keyword}
        inner = others[0] if len(others) == 1 else {keyword: others}
        inner = {"allOf": [inner]} if "$ref" in inner else inner
        return {**rest, **inner, "nullable": True}
    return node


def add_chat_paths(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: the /v1/ endpoints, served outside DRF's sight."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    clashes = (schemas.keys() & COMPONENTS.keys()) - {name for name in COMPONENTS if schemas.get(name) == COMPONENTS[name]}
    assert not clashes, f"OpenAI's request components clash with the gateway's: {clashes}"
    schemas.update({name: _openapi_30(schema) for name, schema in COMPONENTS.items()})
    schemas.update({**CHAT_COMPONENTS, **MESSAGES_COMPONENTS, **RESPONSES_COMPONENTS})
    result.setdefault("paths", {}).update({**CHAT_PATHS, **MESSAGES_PATHS, **RESPONSES_PATHS})
    return result

"""Hand-written OpenAPI for the async endpoints (DRF's schema generator cannot see them).
The request body is OpenAI's own schema, the one the gateway validates with
(request_schema.py): what is documented is what is enforced."""

from __future__ import annotations

from apps.completions.ingress.responses_openapi import RESPONSES_COMPONENTS, RESPONSES_PATHS
from apps.completions.request_schema import COMPONENTS, ROOT
from gateway_site.openapi import CACHE_CONTROL_PARAMETER, COMPLETION_ERRORS, contract_errors

_MODEL = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["model"]},
        "created": {"type": "integer"},
        "owned_by": {"type": "string"},
    },
}

_USAGE = {
    "type": "object",
    "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
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
            "choices": {"type": "array", "items": {
                "type": "object",
                "required": ["index", "message", "finish_reason"],
                "properties": {
                    "index": {"type": "integer"},
                    "message": {"type": "object", "required": ["role"], "properties": {
                        "role": {"type": "string", "enum": ["assistant"]},
                        "content": {"type": "string", "nullable": True},
                        "refusal": {"type": "string", "nullable": True},
                        "tool_calls": {"type": "array", "items": {"$ref": "#/components/schemas/ToolCall"}},
                    }},
                    "finish_reason": {"type": "string", "enum": ["stop", "length", "tool_calls", "content_filter"]},
                    "logprobs": {"type": "object", "nullable": True},
                },
            }},
            "usage": {"$ref": "#/components/schemas/Usage"},
        },
    },
    "ToolCall": {
        "type": "object",
        "required": ["id", "type", "function"],
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string", "enum": ["function"]},
            "function": {"type": "object", "required": ["name", "arguments"], "properties": {
                "name": {"type": "string"}, "arguments": {"type": "string", "description": "JSON text"}}},
        },
    },
    "Usage": _USAGE,
    # One `data:` event of a stream (text/event-stream); the stream ends with `data: [DONE]`.
    "ChatCompletionChunk": {
        "type": "object",
        "description": "One server-sent event of a stream: `data: {chunk}`, blank line; the last event is "
                       "`data: [DONE]`. The first chunk carries the role, the last one the finish_reason; with "
                       "stream_options.include_usage a final chunk has empty choices and the usage. A failure "
                       "after the first chunk arrives as an event `data: {\"error\": {...}}` in the Error shape.",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": {"type": "string", "description": "The same for every chunk of one completion"},
            "object": {"type": "string", "enum": ["chat.completion.chunk"]},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "system_fingerprint": {"type": "string", "nullable": True},
            "choices": {"type": "array", "items": {
                "type": "object",
                "required": ["index", "delta", "finish_reason"],
                "properties": {
                    "index": {"type": "integer"},
                    "delta": {"type": "object", "properties": {
                        "role": {"type": "string", "enum": ["assistant"]},
                        "content": {"type": "string", "nullable": True},
                        "refusal": {"type": "string", "nullable": True},
                        "tool_calls": {"type": "array", "items": {
                            "type": "object", "required": ["index"],
                            "properties": {
                                "index": {"type": "integer"},
                                "id": {"type": "string"},
                                "type": {"type": "string", "enum": ["function"]},
                                "function": {"type": "object", "properties": {
                                    "name": {"type": "string"}, "arguments": {"type": "string", "description": "A piece of JSON text"}}},
                            },
                        }},
                    }},
                    "finish_reason": {"type": "string", "nullable": True,
                                      "enum": ["stop", "length", "tool_calls", "content_filter", None]},
                    "logprobs": {"type": "object", "nullable": True},
                },
            }},
            # Inline rather than a $ref: OpenAPI 3.0's `nullable` does not reach into an allOf.
            "usage": {**_USAGE, "nullable": True, "description": "null, except in the last chunk with stream_options.include_usage"},
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

CHAT_REQUEST_EXAMPLES = {
    "question": {"summary": "A question", "value": {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are a concise assistant for an online shop's support team."},
            {"role": "user", "content": "A customer asks how long a refund takes. Answer in two sentences."},
        ],
        "temperature": 0.3,
        "max_tokens": 200,
    }},
    "stream": {"summary": "Streamed, with the usage at the end", "value": {
        "model": "claude-sonnet-4-20250514",
        "messages": [{"role": "user", "content": "Write a haiku about caching."}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }},
    "tools": {"summary": "With a tool the model may call", "value": {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "What is the weather in Lisbon?"}],
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Current weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }}],
        "tool_choice": "auto",
    }},
}
CHAT_RESPONSE_EXAMPLE = {
    "id": "chatcmpl-9x2Lq7aRcN1v",
    "object": "chat.completion",
    "created": 1796205300,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None, "message": {
        "role": "assistant", "refusal": None,
        "content": "Refunds are sent within 2 business days of our receiving the item. Your bank may take "
                   "another 3 to 5 days to show it.",
    }}],
    "usage": {"prompt_tokens": 38, "completion_tokens": 31, "total_tokens": 69},
}
CHAT_STREAM_EXAMPLE = (
    'data: {"id":"chatcmpl-9x2Lr","object":"chat.completion.chunk","created":1796205301,"model":"claude-sonnet-4-20250514",'
    '"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
    'data: {"id":"chatcmpl-9x2Lr","object":"chat.completion.chunk","created":1796205301,"model":"claude-sonnet-4-20250514",'
    '"choices":[{"index":0,"delta":{"content":"Keys in memory"},"finish_reason":null}]}\n\n'
    'data: {"id":"chatcmpl-9x2Lr","object":"chat.completion.chunk","created":1796205301,"model":"claude-sonnet-4-20250514",'
    '"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    'data: {"id":"chatcmpl-9x2Lr","object":"chat.completion.chunk","created":1796205301,"model":"claude-sonnet-4-20250514",'
    '"choices":[],"usage":{"prompt_tokens":14,"completion_tokens":17,"total_tokens":31}}\n\n'
    "data: [DONE]\n\n"
)

CHAT_PATHS = {
    "/v1/chat/completions": {
        "post": {
            "operationId": "chat_completions_create",
            "summary": "Create a chat completion (OpenAI-compatible, streaming with stream: true)",
            "tags": ["v1"],
            "parameters": [CACHE_CONTROL_PARAMETER],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ROOT}"},
                                                 "examples": CHAT_REQUEST_EXAMPLES}},
            },
            "responses": {
                "200": {
                    "description": "A chat.completion object; with `stream: true`, server-sent events, each a "
                                   "chat.completion.chunk, ending with `data: [DONE]`.",
                    "headers": _HEADERS,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletion"},
                                             "example": CHAT_RESPONSE_EXAMPLE},
                        "text/event-stream": {"schema": {"$ref": "#/components/schemas/ChatCompletionChunk"},
                                              "example": CHAT_STREAM_EXAMPLE},
                    },
                },
            },
            **contract_errors(*COMPLETION_ERRORS),
        }
    },
    "/v1/models": {
        "get": {
            "operationId": "models_list",
            "summary": "List the models this gateway serves",
            "tags": ["v1"],
            **contract_errors("invalid_api_key", "internal_error", "service_unavailable"),
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
            },
            **contract_errors("invalid_api_key", "not_found", "internal_error", "service_unavailable"),
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
    (400, "invalid_request_error"), (401, "authentication_error"), (403, "permission_error (a model the key may not use)"),
    (404, "not_found_error (unknown model)"), (413, "request_too_large"),
    (429, "rate_limit_error (rate limit or budget)"), (500, "api_error"), (502, "api_error (the provider failed)"),
    (503, "overloaded_error (a dependency is unavailable)"), (504, "api_error (the provider did not answer in time)"))}
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
            **contract_errors(),  # its errors are Anthropic's shape, listed above
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
            **contract_errors(),  # its errors are Anthropic's shape, listed above
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

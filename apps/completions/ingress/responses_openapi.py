"""OpenAPI for POST /v1/responses, hand-written: the fields the gateway reads
(ingress/responses.py), the rest of OpenAI's request accepted and ignored."""

from __future__ import annotations

from gateway_site.openapi import COMPLETION_ERRORS, contract_errors

_ITEM = {
    "type": "object",
    "description": "A `message` (role user/assistant/system/developer; content a string or input_text, input_image, "
                   "output_text parts), a `function_call` (call_id, name, arguments) or a `function_call_output` "
                   "(call_id, output). `reasoning` items are dropped.",
    "properties": {"type": {"type": "string", "enum": ["message", "function_call", "function_call_output", "reasoning"]}},
    "additionalProperties": True,
}

RESPONSES_COMPONENTS = {
    "CreateResponseRequest": {
        "type": "object",
        "required": ["model", "input"],
        "properties": {
            "model": {"type": "string"},
            "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": _ITEM}]},
            "instructions": {"type": "string", "description": "A system message for this turn only."},
            "previous_response_id": {"type": "string", "description": "Continue a response this key stored."},
            "store": {"type": "boolean", "default": True, "description": "false: not kept for previous_response_id."},
            "stream": {"type": "boolean", "default": False},
            "tools": {"type": "array", "items": {"type": "object", "description": "function tools only: {type: function, name, parameters, strict}"}},
            "tool_choice": {"oneOf": [{"type": "string", "enum": ["auto", "none", "required"]}, {"type": "object"}]},
            "text": {"type": "object", "description": "format: text, json_object or json_schema (name, schema, strict)"},
            "max_output_tokens": {"type": "integer", "minimum": 1},
            "temperature": {"type": "number"},
            "top_p": {"type": "number"},
            "parallel_tool_calls": {"type": "boolean"},
        },
    },
    "Response": {
        "type": "object",
        "required": ["id", "object", "status", "output"],
        "properties": {
            "id": {"type": "string"},
            "object": {"type": "string", "enum": ["response"]},
            "created_at": {"type": "integer"},
            "status": {"type": "string", "enum": ["completed", "incomplete", "failed", "in_progress"]},
            "model": {"type": "string"},
            "output": {"type": "array", "items": {"type": "object"}},
            "usage": {
                "type": "object",
                "properties": {
                    "input_tokens": {"type": "integer"},
                    "output_tokens": {"type": "integer"},
                    "total_tokens": {"type": "integer"},
                },
            },
        },
    },
}

RESPONSES_PATHS = {
    "/v1/responses": {
        "post": {
            "operationId": "responses_create",
            "summary": "Create a response (OpenAI's Responses API, every model; streaming with stream: true)",
            "tags": ["v1"],
            **contract_errors(*COMPLETION_ERRORS),
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateResponseRequest"}}},
            },
            "responses": {
                "200": {
                    "description": "A response object, or an SSE stream of response.* events ending with response.completed.",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Response"}},
                        "text/event-stream": {"schema": {"type": "string"}},
                    },
                },
                "404": {"description": "previous_response_id not found for this key",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }
    },
}

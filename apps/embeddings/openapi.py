"""Hand-written OpenAPI for `POST /v1/embeddings` (served outside DRF's sight)."""

from __future__ import annotations

from gateway_site.openapi import CACHE_CONTROL_PARAMETER, COMPLETION_ERRORS, contract_errors

EMBEDDING_COMPONENTS = {
    "EmbeddingRequest": {
        "type": "object",
        "required": ["model", "input"],
        "properties": {
            "model": {"type": "string", "example": "all-minilm-l6-v2"},
            "input": {
                "oneOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 2048},
                    {"type": "array", "items": {"type": "integer"}, "minItems": 1},
                    {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}, "minItems": 1, "maxItems": 2048},
                ],
                "description": "Text, texts, or token ids (OpenAI models only). No empty string.",
            },
            "dimensions": {"type": "integer", "minimum": 1,
                           "description": "Shorter vectors, rescaled to length 1 (OpenAI text-embedding-3-*, Gemini)."},
            "encoding_format": {"type": "string", "enum": ["float", "base64"], "default": "float",
                                "description": "base64: the little-endian float32 bytes of each vector."},
            "user": {"type": "string"},
        },
    },
    "Embedding": {
        "type": "object",
        "properties": {
            "object": {"type": "string", "enum": ["embedding"]},
            "index": {"type": "integer"},
            "embedding": {"oneOf": [{"type": "array", "items": {"type": "number"}}, {"type": "string"}]},
        },
    },
    "EmbeddingList": {
        "type": "object",
        "properties": {
            "object": {"type": "string", "enum": ["list"]},
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Embedding"}},
            "model": {"type": "string"},
            "usage": {"type": "object", "properties": {"prompt_tokens": {"type": "integer"},
                                                       "total_tokens": {"type": "integer"}}},
        },
    },
}

EMBEDDING_PATHS = {
    "/v1/embeddings": {
        "post": {
            "operationId": "embeddings_create",
            "summary": "Create embeddings (OpenAI-compatible): OpenAI, Gemini, and the local all-minilm-l6-v2",
            "tags": ["v1"],
            "parameters": [CACHE_CONTROL_PARAMETER],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EmbeddingRequest"}}},
            },
            "responses": {
                "200": {
                    "description": "A list of embeddings, in the order of the inputs.",
                    "headers": {"X-Cache": {"schema": {"type": "string", "enum": ["HIT-EXACT", "MISS"]}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EmbeddingList"}}},
                },
            },
            **contract_errors(*COMPLETION_ERRORS),
        }
    },
}


def add_embedding_paths(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook, after apps.completions.openapi.add_chat_paths."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(EMBEDDING_COMPONENTS)
    result.setdefault("paths", {}).update(EMBEDDING_PATHS)
    return result

"""Checking a `POST /v1/embeddings` request before any work is done on it.

OpenAI's rules (https://platform.openai.com/docs/api-reference/embeddings/create): `input`
is a string, an array of strings, an array of token ids or an array of such arrays; no
empty string; at most 2048 inputs. Token ids mean something only to OpenAI's own
tokenizer, so they are passed to OpenAI models and refused for the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.cache.policy import CachePlan, CacheQuery
from apps.cache.services import embedding_cache_plan
from apps.completions.validation import json_object
from apps.keys.registry import KeyInfo
from gateway_site.errors import InvalidRequest, ModelNotFound, PermissionDenied
from gateway_site.gateway_config import EmbeddingRoute, GatewayConfig

MAX_INPUTS = 2048  # OpenAI's limit per request
ENCODING_FORMATS = ("float", "base64")
TOKEN_ARRAY_PROTOCOLS = frozenset({"openai"})

Inputs = list[str] | list[list[int]]


@dataclass
class EmbeddingRequest:
    payload: dict[str, Any]
    route: EmbeddingRoute
    inputs: Inputs  # always a list, in the client's order
    dimensions: int | None  # as asked; None: the model's own
    as_base64: bool
    cache: CachePlan
    stream: bool = False  # what admission reads of every request

    @property
    def texts(self) -> list[str]:
        """The inputs, which are text for any model but OpenAI's."""
        return self.inputs  # type: ignore[return-value]


def parse_embedding_request(body: bytes, *, key: KeyInfo, config: GatewayConfig, cache_control: str = "") -> EmbeddingRequest:
    payload = json_object(body)
    route = _route(payload.get("model"), key, config)
    inputs = _inputs(payload.get("input"), route)
    dimensions = _dimensions(payload.get("dimensions"), route)
    encoding = payload.get("encoding_format")
    if encoding is not None and encoding not in ENCODING_FORMATS:
        raise InvalidRequest("'encoding_format' must be 'float' or 'base64'", param="encoding_format")
    directives = {part.strip().lower() for part in cache_control.split(",")}
    # The key reads the request as served: one input or a list of one give the same vectors.
    keyed = {**payload, "model": route.name, "input": inputs, "dimensions": dimensions or route.dimensions}
    query = CacheQuery(payload=keyed, model=route.name, namespace=key.namespace,
                       read=not ({"no-cache", "no-store"} & directives), write="no-store" not in directives)
    return EmbeddingRequest(payload=payload, route=route, inputs=inputs, dimensions=dimensions,
                            as_base64=encoding == "base64", cache=embedding_cache_plan(query, config.cache))


def _route(model: Any, key: KeyInfo, config: GatewayConfig) -> EmbeddingRoute:
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a string", param="model")
    route = config.embedding_models.get(model)
    if route is None:
        if model in config.models:
            served = ", ".join(sorted(config.embedding_models)) or "none"
            raise InvalidRequest(f"'{model}' is a chat model; embedding models here: {served}", param="model")
        raise ModelNotFound(f"The model '{model}' does not exist or is not served by this gateway", param="model")
    if not key.may_use_model(model):
        raise PermissionDenied(f"This API key may not use the model '{model}'", param="model")
    return route


def _inputs(value: Any, route: EmbeddingRoute) -> Inputs:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise InvalidRequest("'input' must be a non-empty string or array", param="input")
    if len(value) > MAX_INPUTS:
        raise InvalidRequest(f"'input' may hold at most {MAX_INPUTS} items, got {len(value)}", param="input")
    if all(isinstance(item, str) for item in value):
        if not all(value):
            raise InvalidRequest("'input' must not contain an empty string", param="input")
        return value
    if _is_tokens(value):
        value = [value]
    elif not all(isinstance(item, list) and item and _is_tokens(item) for item in value):
        raise InvalidRequest("'input' must be strings, or token ids (non-empty arrays of integers)", param="input")
    if route.provider.protocol not in TOKEN_ARRAY_PROTOCOLS:
        raise InvalidRequest(f"Token arrays are only read by OpenAI models; send '{route.name}' text", param="input")
    return value


def _is_tokens(value: list) -> bool:
    return all(isinstance(item, int) and not isinstance(item, bool) and item >= 0 for item in value)


def _dimensions(value: Any, route: EmbeddingRoute) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidRequest("'dimensions' must be a positive integer", param="dimensions")
    if route.min_dimensions is None and value != route.dimensions:
        raise InvalidRequest(f"'{route.name}' gives {route.dimensions} dimensions only", param="dimensions")
    low = route.min_dimensions or route.dimensions
    if not low <= value <= route.dimensions:
        raise InvalidRequest(f"'dimensions' for '{route.name}' must be between {low} and {route.dimensions}",
                             param="dimensions")
    return value

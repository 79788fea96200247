"""Fake embeddings: OpenAI `POST /v1/embeddings`, Gemini `embedContent` and
`batchEmbedContents`. They count, fail and delay like the chat endpoints of the same
provider (the same `name`, errors and directives: read from the first text of a call).

A vector is deterministic: unit-length Gaussian noise seeded by a digest of the text (or
of the token ids), so the same text always has the same vector and two texts differ.
Shortening: OpenAI's `dimensions` returns the first values rescaled to length 1, as
OpenAI does; Gemini's `outputDimensionality` returns them unscaled, as Google does.
Usage: OpenAI counts words (or token ids); Gemini reports no count, as Google does not.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiohttp import web

from .base import Answer, Conversation, count_words, json_response, need
from .gemini import GeminiProtocol
from .openai import OpenAIProtocol

NATIVE_DIMENSIONS = {"text-embedding-3-large": 3072, "gemini-embedding-001": 3072}
DEFAULT_DIMENSIONS = 1536
GEMINI_MAX_BATCH = 100


@dataclass
class EmbeddingCall:
    texts: list[str]  # token-id inputs as their digits joined by spaces
    dimensions: int
    rescale: bool
    base64: bool = False  # OpenAI: encoding_format base64
    batched: bool = False  # Gemini: batchEmbedContents, not embedContent


def fake_vector(text: str, dimensions: int, *, rescale: bool = True, native: int = DEFAULT_DIMENSIONS) -> np.ndarray:
    """The fake's vector for `text` (tests compute the expected one with this)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    full = np.random.default_rng(seed).standard_normal(native).astype(np.float32)
    full /= np.linalg.norm(full)
    short = full[:dimensions]
    return short / np.linalg.norm(short) if rescale else short


def _vectors(call: EmbeddingCall, model: str) -> list[np.ndarray]:
    native = NATIVE_DIMENSIONS.get(model, DEFAULT_DIMENSIONS)
    return [fake_vector(text, call.dimensions, rescale=call.rescale, native=native) for text in call.texts]


def _as_text(item: Any) -> str:
    return item if isinstance(item, str) else " ".join(str(token) for token in item)


class OpenAIEmbeddingsProtocol(OpenAIProtocol):
    def conversation(self, body: dict[str, Any], model: str) -> Conversation:
        model = body.get("model")
        need(isinstance(model, str) and model, "you must provide a model parameter")
        inputs = body.get("input")
        inputs = [inputs] if isinstance(inputs, str) or (isinstance(inputs, list) and inputs
                                                          and isinstance(inputs[0], int)) else inputs
        need(isinstance(inputs, list) and inputs and all(inputs), "'$.input' is invalid.")
        need(body.get("encoding_format") in (None, "float", "base64"), "'$.encoding_format' is invalid.")
        native = NATIVE_DIMENSIONS.get(model, DEFAULT_DIMENSIONS)
        dimensions = body.get("dimensions") or native
        need(isinstance(dimensions, int) and 1 <= dimensions <= native, "'$.dimensions' is invalid.")
        texts = [_as_text(item) for item in inputs]
        tokens = sum(len(item) if isinstance(item, list) else len(item.split()) for item in inputs)
        call = EmbeddingCall(texts, dimensions, rescale=True, base64=body.get("encoding_format") == "base64")
        return Conversation(model=model, last_user_text=texts[0], prompt_tokens=tokens, embedding=call)

    def completion(self, conv: Conversation, answer: Answer) -> web.Response:
        call: EmbeddingCall = conv.embedding
        data = [
            {"object": "embedding", "index": index,
             "embedding": base64.b64encode(vector.astype("<f4").tobytes()).decode() if call.base64 else vector.tolist()}
            for index, vector in enumerate(_vectors(call, conv.model))
        ]
        usage = {"prompt_tokens": conv.prompt_tokens, "total_tokens": conv.prompt_tokens}
        return json_response({"object": "list", "data": data, "model": conv.model, "usage": usage})


class GeminiEmbeddingsProtocol(GeminiProtocol):
    def conversation(self, body: dict[str, Any], model: str) -> Conversation:
        batch = body.get("requests")
        requests = [body] if batch is None else batch
        need(isinstance(requests, list) and requests, "* BatchEmbedContentsRequest.requests: requests is empty")
        need(len(requests) <= GEMINI_MAX_BATCH, f"* BatchEmbedContentsRequest.requests: at most {GEMINI_MAX_BATCH} "
             "requests can be in one batch")
        texts, sizes = [], set()
        for request in requests:
            if batch is not None:
                need(request.get("model") == f"models/{model}", "Model name in the request does not match the URL")
            parts = (request.get("content") or {}).get("parts")
            need(isinstance(parts, list) and parts, "* EmbedContentRequest.content: contents is not specified")
            texts.append(" ".join(part["text"] for part in parts))
            sizes.add(request.get("outputDimensionality") or NATIVE_DIMENSIONS.get(model, DEFAULT_DIMENSIONS))
        need(len(sizes) == 1, "the fake wants one outputDimensionality per batch")
        call = EmbeddingCall(texts, sizes.pop(), rescale=False, batched=batch is not None)
        return Conversation(model=model, last_user_text=texts[0], prompt_tokens=count_words(texts), embedding=call)

    def completion(self, conv: Conversation, answer: Answer) -> web.Response:
        call: EmbeddingCall = conv.embedding
        found = [{"values": vector.tolist()} for vector in _vectors(call, conv.model)]
        return json_response({"embeddings": found} if call.batched else {"embedding": found[0]})


OPENAI_EMBEDDINGS = OpenAIEmbeddingsProtocol()
GEMINI_EMBEDDINGS = GeminiEmbeddingsProtocol()

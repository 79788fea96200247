"""Embedding vectors inside the gateway, and their two OpenAI renderings.

A vector is kept as the bytes of its float32 values, little-endian: what OpenAI's
`encoding_format: "base64"` sends (base64 of exactly those bytes, which the official SDKs
decode, and ask for by default), what the exact cache stores, and a quarter of the size
of the same numbers written as JSON. `float` output is rendered from them by orjson's
numpy serialiser, which writes float32's shortest form.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

FLOAT32 = "<f4"  # little-endian float32, numpy's dtype string


@dataclass
class Embeddings:
    vectors: list[bytes]  # one per input, in the order of the inputs
    prompt_tokens: int
    tokens_estimated: bool = False  # the provider gave no count (Gemini): chars / 4

    @property
    def usage(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "total_tokens": self.prompt_tokens}


def pack(values: Sequence[float]) -> bytes:
    import numpy as np  # here, not at import: only embeddings need it (~14 MB of every worker otherwise)

    return np.asarray(values, dtype=FLOAT32).tobytes()


def unit_length(vector: bytes) -> bytes:
    """The vector scaled to length 1, as OpenAI's shortened embeddings are (Google leaves a
    shortened Gemini embedding unnormalised: https://ai.google.dev/gemini-api/docs/embeddings)."""
    import numpy as np  # only embeddings need it (see pack)

    values = np.frombuffer(vector, dtype=FLOAT32)
    norm = float(np.linalg.norm(values))
    return vector if norm == 0 else (values / norm).astype(FLOAT32).tobytes()


def response_body(embeddings: Embeddings, *, model: str, as_base64: bool) -> bytes:
    """The OpenAI `CreateEmbeddingResponse` JSON."""
    import numpy as np  # only embeddings need it (see pack)

    data = [
        {"object": "embedding", "index": index,
         "embedding": base64.b64encode(vector).decode() if as_base64 else np.frombuffer(vector, dtype=FLOAT32)}
        for index, vector in enumerate(embeddings.vectors)
    ]
    body = {"object": "list", "data": data, "model": model, "usage": embeddings.usage}
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def to_document(embeddings: Embeddings) -> dict[str, Any]:
    """What the exact cache stores."""
    return {"vectors": [base64.b64encode(vector).decode() for vector in embeddings.vectors],
            "prompt_tokens": embeddings.prompt_tokens, "estimated": embeddings.tokens_estimated}


def from_document(document: dict[str, Any]) -> Embeddings:
    return Embeddings([base64.b64decode(vector) for vector in document["vectors"]],
                      int(document["prompt_tokens"]), bool(document.get("estimated")))

"""What identifies an answer: the exact-cache key and the semantic-cache scope.

Both are SHA-256 digests of a canonical JSON form (orjson, keys sorted at every depth) of
the request fields that can change the answer. The rule is a deny-list, not an allow-list:
every field is part of the key unless we know it cannot change the answer. An unknown
field (OpenAI adds some every few months: `logit_bias`, `reasoning_effort`, `modalities`,
`parallel_tool_calls`...) is passed to OpenAI upstreams, so it may well change the answer;
keying on it costs at worst a miss, ignoring it could replay an answer to another question.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import orjson

# Fields that do not change the answer. `stream`/`stream_options` only change its
# transport (a cached answer is replayed as a stream), `user` is an end-user id for
# abuse tracking, `metadata`/`store`/`service_tier` are OpenAI bookkeeping and billing.
NOT_IN_KEY = frozenset({"stream", "stream_options", "user", "metadata", "store", "service_tier"})
# JSON has one number type; 1 and 1.0 must give one key.
FLOAT_FIELDS = frozenset({"temperature", "top_p", "presence_penalty", "frequency_penalty"})
FORMAT_VERSION = 1  # bump to orphan every stored entry after a change of this file


def answer_fields(payload: dict[str, Any]) -> dict[str, Any]:
    """The request without the fields that cannot change the answer; null = absent."""
    fields = {}
    for name, value in payload.items():
        if name in NOT_IN_KEY or value is None:
            continue
        if name in FLOAT_FIELDS and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        fields[name] = value
    return fields


def _digest(document: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()


def exact_digest(payload: dict[str, Any], *, namespace: str) -> str:
    """SHA-256 of model, every message, every answer-changing parameter and the namespace."""
    return _digest({"v": FORMAT_VERSION, "namespace": namespace, "request": answer_fields(payload)})


def namespace_token(namespace: str) -> str:
    """The namespace as it appears in Redis keys: percent-encoded, so it holds no ':' and
    no glob character and `SCAN MATCH ...:<token>:*` selects exactly one namespace."""
    return quote(namespace, safe="")


def exact_key(payload: dict[str, Any], *, namespace: str) -> str:
    """The cache key before Django's prefix: cache:exact:<namespace>:<digest>."""
    return f"cache:exact:{namespace_token(namespace)}:{exact_digest(payload, namespace=namespace)}"


# An embeddings request's vectors are stored once and rendered as floats or base64 per
# request; `user` is an end-user id.
EMBEDDING_NOT_IN_KEY = frozenset({"encoding_format", "user"})


def embedding_exact_key(payload: dict[str, Any], *, namespace: str) -> str:
    """The exact-cache key of an embeddings request: in the same key space as answers (so
    clearing the cache clears both), its document marked apart from any chat request's."""
    request = {name: value for name, value in payload.items() if name not in EMBEDDING_NOT_IN_KEY and value is not None}
    digest = _digest({"v": FORMAT_VERSION, "namespace": namespace, "embeddings": request})
    return f"cache:exact:{namespace_token(namespace)}:{digest}"


def final_user_text(payload: dict[str, Any]) -> str | None:
    """The text of the last message if it is a user message made of text only, else None
    (images, audio and tool results are not compared semantically)."""
    message = payload["messages"][-1]
    if message.get("role") != "user":
        return None
    content = message.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or not content:
        return None
    texts = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
            return None
        texts.append(part["text"])
    return "\n".join(texts)


def semantic_scope(payload: dict[str, Any], *, namespace: str) -> str:
    """Everything but the final user message's text: model, system prompt, earlier turns,
    tools, response_format, sampling parameters, namespace. Must match exactly for a hit."""
    fields = answer_fields(payload)
    messages = fields.pop("messages")
    last = {name: value for name, value in messages[-1].items() if name != "content"}
    document = {"v": FORMAT_VERSION, "namespace": namespace, "request": fields,
                "history": messages[:-1], "final": last}
    return _digest(document)

"""Helpers for end-to-end cache tests against a served gateway (tests/gateway_server.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from openai import OpenAI

from apps.cache import exact
from apps.cache.canonical import exact_key


def sdk(gateway, raw_key: str) -> OpenAI:
    return OpenAI(base_url=f"{gateway.url}/v1", api_key=raw_key, max_retries=0, timeout=30)


def post(gateway, raw_key: str, payload: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=payload, timeout=30,
                      headers={"Authorization": f"Bearer {raw_key}", **headers})


def unique(text: str) -> str:
    """A question no other test (or earlier run) has asked."""
    return f"{text} [{uuid.uuid4().hex[:8]}]"


def wait_until(condition: Callable[[], Any], limit: float = 15.0) -> Any:
    deadline = time.monotonic() + limit
    while not (result := condition()):
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)
    return result


def stored(payload: dict[str, Any], namespace: str, redis_client=None) -> bool:
    """Whether the exact cache holds an answer for `payload` in `namespace`."""
    client = redis_client or exact.admin_redis()
    return bool(client.exists(exact.full_key(exact_key(payload, namespace=namespace))))

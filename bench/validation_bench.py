"""µs per request to check a typical chat body: the old hand checks, the schema with
jsonschema-rs (what the gateway uses), fastjsonschema (if installed) and `jsonschema`.
Run: DJANGO_SETTINGS_MODULE=gateway_site.settings PYTHONPATH=. .venv/bin/python bench/validation_bench.py"""

from __future__ import annotations

import timeit

import django

django.setup()

from apps.completions import request_schema

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
BODY = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": [{"type": "text", "text": "And of Spain?"}]},
    ],
    "temperature": 0.2,
    "max_tokens": 200,
    "stream": True,
    "stream_options": {"include_usage": True},
}


def hand_checks(payload: dict) -> None:
    """The checks validation.py made before the schema (commit 8687482), in short."""
    assert isinstance(payload.get("model"), str)
    for message in payload["messages"]:
        assert isinstance(message, dict) and message.get("role") in ROLES
        assert isinstance(message.get("content"), (str, list, type(None)))
    for name in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        value = payload.get(name)
        assert value is None or isinstance(value, (int, float))
    for name in ("max_tokens", "max_completion_tokens", "n"):
        value = payload.get(name)
        assert value is None or isinstance(value, int)


def per_call_us(function, number: int) -> float:
    return min(timeit.repeat(lambda: function(BODY), number=number, repeat=5)) / number * 1e6


if __name__ == "__main__":
    full = request_schema._explainer
    print(f"hand checks (before):          {per_call_us(hand_checks, 20000):7.2f} µs")
    print(f"jsonschema-rs (the gateway):   {per_call_us(request_schema.check_chat_schema, 20000):7.2f} µs")
    try:
        import fastjsonschema
    except ImportError:
        pass
    else:
        document = request_schema._document(discriminate=False)
        compiled = fastjsonschema.compile(document, use_default=False, detailed_exceptions=False)
        print(f"fastjsonschema (compiled):     {per_call_us(compiled, 1000):7.2f} µs")
    print(f"jsonschema Draft7 is_valid:    {per_call_us(full.is_valid, 500):7.2f} µs")

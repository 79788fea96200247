"""Writing server-sent events, the way the OpenAI API streams: `data: <json>` events and a
final `data: [DONE]`. (Reading upstream streams is apps/completions/providers/sse.py.)"""

from __future__ import annotations

from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


def encode_event(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"

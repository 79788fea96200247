"""CPU the /v1/responses ingress adds to a chat completion, per request, in process.

    .venv/bin/python bench/responses_overhead.py

What it times, with the fake upstream's default answer: the request's translation
(Responses body → chat payload, against reading a chat body), the answer's (chat JSON →
response JSON), a stream's (the chat SSE bytes of ~15 chunks → Responses events), and the
stored response's write (COPY of a batch of 100, per row; needs the database).
Wall-clock µs per operation, best of 5 (timeit), on an otherwise idle core.
"""

from __future__ import annotations

import os
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")

import django

django.setup()

import orjson

from apps.completions.ingress.responses import (
    chat_payload,
    read_responses_request,
    response_from_completion,
)
from apps.completions.ingress.responses_events import ResponsesStreamWriter
from apps.completions.validation import json_object
from gateway_site.sse import DONE, encode_event

PROMPT = "Write one sentence about benchmarks #1-1"
ANSWER = f"This is a fake answer from openai to: {PROMPT}"
CHAT_BODY = orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": PROMPT}]})
RESPONSES_BODY = orjson.dumps({"model": "gpt-4o", "input": PROMPT})
COMPLETION = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 7, "completion_tokens": 15, "total_tokens": 22},
}
CHAT_JSON = orjson.dumps(COMPLETION)


def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
            "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}], **({"usage": usage} if usage else {})}


WORDS = ANSWER.split(" ")
PIECES = [encode_event(chunk({"role": "assistant", "content": ""}))]
PIECES += [encode_event(chunk({"content": word + " "})) for word in WORDS]
PIECES += [encode_event(chunk({}, "stop")), encode_event(chunk({}, usage=COMPLETION["usage"])) + DONE]


def read_chat() -> None:
    json_object(CHAT_BODY)


def read_responses() -> None:
    chat_payload(read_responses_request(json_object(RESPONSES_BODY)), [])


def answer() -> None:
    ask = read_responses_request({"model": "gpt-4o", "input": PROMPT})
    orjson.dumps(response_from_completion(ask, orjson.loads(CHAT_JSON), response_id="resp_1"))


def stream() -> None:
    ask = read_responses_request({"model": "gpt-4o", "input": PROMPT, "stream": True})
    writer = ResponsesStreamWriter(ask, response_id="resp_1", created_at=1, model="gpt-4o")
    out = writer.start()
    for piece in PIECES:
        for block in piece.split(b"\n\n"):
            if block.startswith(b"data: "):
                data = block[6:]
                out += writer.complete() if data == b"[DONE]" else writer.chunk(orjson.loads(data))


def best_us(function, number: int = 2000) -> float:
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def store_row_us(rows: int = 100, repeats: int = 5) -> float:
    import time

    from apps.keys.services import key_create
    from apps.responses.models import StoredResponse
    from apps.responses.store import NewResponse, _write

    key, _ = key_create(name="bench-responses")
    output = orjson.loads(orjson.dumps(response_from_completion(
        read_responses_request({"model": "gpt-4o", "input": PROMPT}), COMPLETION, response_id="resp_1")))["output"]
    best = float("inf")
    for attempt in range(repeats):
        batch = [NewResponse(f"resp_bench_{attempt}_{i}", key.id, "gpt-4o", [{"type": "message", "role": "user", "content": PROMPT}],
                             output, time.time(), time.time() + 60) for i in range(rows)]
        started = time.process_time()
        _write(batch)
        best = min(best, (time.process_time() - started) / rows * 1e6)
    StoredResponse.objects.filter(api_key=key).delete()
    key.delete()
    return best


if __name__ == "__main__":
    chat, responses = best_us(read_chat), best_us(read_responses)
    print(f"read the body: chat {chat:.1f} µs, responses {responses:.1f} µs (+{responses - chat:.1f})")
    print(f"answer, chat JSON -> response JSON: {best_us(answer):.1f} µs")
    print(f"stream, {len(PIECES)} chat events -> Responses events: {best_us(stream, 500):.1f} µs")
    if "--no-db" not in sys.argv:
        print(f"store, COPY in batches of 100: {store_row_us():.1f} µs of CPU per row (writer thread)")

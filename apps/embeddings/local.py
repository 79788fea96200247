"""The `local` protocol: embeddings from the all-MiniLM-L6-v2 model the gateway bundles
for its semantic cache, computed by the machine's embedding service (`manage.py embedder`,
apps/cache/embedding_service.py), the same one the semantic cache asks.

Texts are submitted one by one, as EXACT requests: the service encodes them with the fp32
model (the semantic cache's int8 one gives vectors that depend a little on their batch, fine
for a cache, not for an API), batched with whatever else waits for that model. The model reads at most 256 word pieces (its CLS and SEP
included) and ignores the rest, as sentence-transformers does; usage counts the word
pieces it read, with its own tokenizer, loaded once per process.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from pathlib import Path
from typing import Any

from apps.cache import embedder
from apps.cache.embedding_client import EmbedderClient, EmbedSkipped
from apps.cache.embedding_protocol import EXACT
from apps.embeddings import vectors
from gateway_site import runtime
from gateway_site.errors import ServiceUnavailable
from gateway_site.quiet_log import QuietLog

logger = logging.getLogger(__name__)

MAX_WORD_PIECES = 256 - 2  # the model's max_seq_length, less its CLS and SEP tokens


REQUEST_BUDGET = 10.0  # seconds an API request waits for its vectors (a lookup waits 25 ms)
GROUP = 16
WARMING_POLL = 0.25  # seconds between two asks of a service that is loading its model


async def alocal_embeddings(texts: list[str]) -> vectors.Embeddings:
    try:
        found, tokens = await asyncio.gather(_aembed_texts(texts), asyncio.to_thread(count_tokens, texts))
    except (EmbedSkipped, ImportError, OSError, RuntimeError) as exc:  # service down or busy; tokenizer unreadable
        runtime.part(QuietLog).warning(logger, "local_embeddings", "local embeddings unavailable: %r", exc)
        raise ServiceUnavailable("The local embedding model is unavailable on this gateway; retry shortly",
                                 headers={"Retry-After": "1"}) from None
    return vectors.Embeddings([vectors.pack(vector) for vector in found], tokens)


async def _aembed_texts(texts: list[str]) -> list[list[float]]:
    # In groups: the client keeps a bounded number of requests in flight (a semantic lookup
    # must still find room while a long input is embedded).
    client, found = runtime.part(EmbedderClient), []
    deadline = time.monotonic() + REQUEST_BUDGET
    for start in range(0, len(texts), GROUP):
        group = texts[start:start + GROUP]
        while True:
            try:
                found += await asyncio.gather(*(client.aembed(text, budget=REQUEST_BUDGET, kind=EXACT) for text in group))
                break
            except EmbedSkipped as skipped:
                # A service still loading its model answers soon: an API request waits for it
                # (a semantic lookup would not), within its budget.
                if skipped.reason != "warming" or time.monotonic() + WARMING_POLL > deadline:
                    raise
                await asyncio.sleep(WARMING_POLL)
    return found


def count_tokens(texts: list[str]) -> int:
    encodings = _tokenizer().encode_batch(texts, add_special_tokens=False)
    return sum(min(len(encoding.ids), MAX_WORD_PIECES) for encoding in encodings)


@functools.cache
def _tokenizer() -> Any:
    """A tokenizer of our own, not the model's: a Rust tokenizer used from two threads at
    once fails ("Already borrowed"), and the model's is busy in the embedder's thread."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(embedder.model_path()) / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer

"""The `local` protocol: embeddings from the all-MiniLM-L6-v2 model the gateway bundles
for its semantic cache (apps/cache/embedder.py), computed in the gateway's own process.

The embedder is reached through `_aembed_texts` only, so that moving the model out of the
process later (one embedder per machine) changes one function. Texts are submitted one by
one: the embedder's worker thread batches whatever is waiting, this request's texts and
other requests' alike. The model reads at most 256 word pieces (its CLS and SEP
included) and ignores the rest, as sentence-transformers does; usage counts the word
pieces it read, with its own tokenizer, loaded once per process.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Any

from apps.cache import embedder
from apps.embeddings import vectors
from gateway_site import runtime
from gateway_site.errors import ServiceUnavailable
from gateway_site.quiet_log import QuietLog

logger = logging.getLogger(__name__)

MAX_WORD_PIECES = 256 - 2  # the model's max_seq_length, less its CLS and SEP tokens


async def alocal_embeddings(texts: list[str]) -> vectors.Embeddings:
    try:
        found, tokens = await asyncio.gather(_aembed_texts(texts), asyncio.to_thread(count_tokens, texts))
    except (ImportError, OSError, RuntimeError) as exc:  # not installed, unreadable, out of memory
        runtime.part(QuietLog).warning(logger, "local_embeddings", "local embedding model unavailable: %r", exc)
        raise ServiceUnavailable("The local embedding model is unavailable on this gateway") from None
    return vectors.Embeddings([vectors.pack(vector) for vector in found], tokens)


async def _aembed_texts(texts: list[str]) -> list[list[float]]:
    return list(await asyncio.gather(*(embedder.aembed(text) for text in texts)))


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

"""Texts/s of the embedding model's two paths on one thread, and how close their vectors are.

    .venv/bin/python bench/embedder_speed.py [--texts 320]

Texts: the distinct questions of bench/data/chat_pairs*.jsonl. Prints texts/s one at a time
and in batches of 16 for every backend of apps/cache/embedder.py, and the cosine between
each path's vectors and PyTorch's (SentenceTransformer's) for every text (min and mean),
the texts encoded in batches of 16 in a shuffled order.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from apps.cache import embedder  # noqa: E402


def texts() -> list[str]:
    rows = [json.loads(line) for name in ("chat_pairs.jsonl", "chat_pairs_v2.jsonl")
            for line in (ROOT / "bench" / "data" / name).read_text().splitlines() if line.strip()]
    return sorted({text for row in rows for text in (row["a"], row["b"])})


def rate(backend: str, sample: list[str], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(sample), batch):
        embedder.embed_sync(sample[start:start + batch], backend)
    return len(sample) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=320, help="texts timed per case")
    args = parser.parse_args()
    every = texts()
    random.Random(13).shuffle(every)
    print(f"{len(every)} texts\n")
    print("| path | texts/s, one at a time | texts/s, batches of 16 | cosine to torch, min / mean |")
    print("|---|---:|---:|---|")
    reference = np.array(embedder.embed_sync(every, "torch"))
    for backend in embedder.BACKENDS:
        vectors = np.array([v for start in range(0, len(every), 16) for v in embedder.embed_sync(every[start:start + 16], backend)])
        cosines = (vectors * reference).sum(axis=1)
        sample = every[:args.texts]
        print(f"| {backend} | {rate(backend, sample, 1):.0f} | {rate(backend, sample, 16):.0f} | "
              f"{cosines.min():.4f} / {cosines.mean():.5f} |", flush=True)


if __name__ == "__main__":
    main()

"""Texts/s of the embedding model's two paths on one thread, and how close their vectors are.

    .venv/bin/python bench/embedder_speed.py [--texts 320]

Texts: the distinct questions of bench/data/chat_pairs*.jsonl. Prints texts/s one at a time
and in batches of 16 for `torch` and `onnx` (apps/cache/embedder.py), and the cosine
between the two paths' vectors of every text (min and mean).
"""

from __future__ import annotations

import argparse
import json
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
    vectors = {backend: np.array(embedder.embed_sync(every, backend)) for backend in embedder.BACKENDS}
    cosines = (vectors["onnx"] * vectors["torch"]).sum(axis=1)
    print(f"{len(every)} texts; cosine onnx vs torch: min {cosines.min():.7f}, mean {cosines.mean():.7f}\n")
    print("| path | texts/s, one at a time | texts/s, batches of 16 |")
    print("|---|---:|---:|")
    for backend in embedder.BACKENDS:
        sample = every[:args.texts]
        print(f"| {backend} | {rate(backend, sample, 1):.0f} | {rate(backend, sample, 16):.0f} |", flush=True)


if __name__ == "__main__":
    main()

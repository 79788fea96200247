"""Builds bench/data/chat_pairs_v2.jsonl from its hand-written source, with a frozen split.

    python bench/build_chat_pairs.py

The split is drawn once, before any run of the verifier on the set: per kind (stratified),
a seeded shuffle puts 40 % of the pairs in `test`, the rest in `dev`. Rules are tuned on
dev errors only; tests/cache/test_eval_set_frozen.py fails if the test split changes.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SOURCE, OUT = DATA / "chat_pairs_v2.txt", DATA / "chat_pairs_v2.jsonl"
SEED, TEST_SHARE = 20261129, 0.4


def read_source(path: Path) -> list[dict]:
    rows: list[dict] = []
    kind, same = "", False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("@"):
            kind, label = line[1:].split()
            same = label == "same"
        elif "||" in line and not line.startswith("#"):
            a, b = (part.strip() for part in line.split("||"))
            rows.append({"a": a, "b": b, "same": same, "kind": kind})
    return rows


def assign_split(rows: list[dict]) -> None:
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    for kind, group in sorted(by_kind.items()):
        order = list(range(len(group)))
        random.Random(f"{SEED}:{kind}").shuffle(order)
        test = set(order[:round(len(group) * TEST_SHARE)])
        for k, row in enumerate(group):
            row["split"] = "test" if k in test else "dev"


def main() -> None:
    rows = read_source(SOURCE)
    assign_split(rows)
    with OUT.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} pairs, {sum(r['split'] == 'test' for r in rows)} test -> {OUT.name}")


if __name__ == "__main__":
    main()

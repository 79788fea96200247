"""The issue-13 evaluation set: its test split is frozen, its dev split guards precision.

The test split was drawn before any run (bench/data/chat_pairs_v2.md). Editing it, or
re-drawing the split, would make its figure meaningless, so its bytes are pinned here.
A deliberate new version of the set needs a new file, not a new hash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from apps.cache.verifier import compare

SET_V2 = Path(__file__).resolve().parents[2] / "bench" / "data" / "chat_pairs_v2.jsonl"
TEST_SPLIT_SHA256 = "c15f734c66f37d0b7edc48b404a9603815e3d9b0a46bd5dd3d02509c2294ed22"


def _lines() -> list[str]:
    return SET_V2.read_text(encoding="utf-8").splitlines(keepends=True)


def _rows(split: str) -> list[dict]:
    return [row for row in map(json.loads, _lines()) if row["split"] == split]


def test_it_keeps_the_test_split_byte_for_byte():
    test_lines = [line for line in _lines() if json.loads(line)["split"] == "test"]
    assert hashlib.sha256("".join(test_lines).encode()).hexdigest() == TEST_SPLIT_SHA256


def test_it_has_every_kind_in_both_splits():
    dev, test = _rows("dev"), _rows("test")
    assert len(dev) + len(test) >= 400 and len(test) >= 150
    assert {r["kind"] for r in dev} == {r["kind"] for r in test}
    assert {"tech_one_letter", "plural_scope", "swapped_args", "negation"} <= {r["kind"] for r in test}


def test_it_accepts_no_near_miss_of_the_dev_split():
    """Precision guard without the cosine gate; dev only, the test split is never tuned on."""
    wrong = [(r["a"], r["b"]) for r in _rows("dev") if not r["same"] and compare(r["a"], r["b"]).same]
    assert wrong == []

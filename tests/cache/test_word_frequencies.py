"""The verifier's dictionary in its compact form answers exactly as the plain table does."""

import gzip
import json
from pathlib import Path

import spellchecker

from apps.cache.wording import WordFrequencies, word_frequencies


def test_it_answers_every_word_as_the_table_does():
    path = Path(spellchecker.__file__).with_name("resources") / "en.json.gz"
    table = json.load(gzip.open(path, "rt", encoding="utf-8"))
    compact = word_frequencies()
    assert len(compact) == len(table) > 100_000
    assert all(compact.get(word) == count for word, count in table.items())
    for absent in ("lsit", "zzzzqx", "", "aaaaaaaaaaaa", "ßtrange"):
        assert compact.get(absent, 0) == table.get(absent, 0)


def test_it_knows_nothing_when_empty():
    empty = WordFrequencies({})
    assert not len(empty) and empty.get("list") == 0

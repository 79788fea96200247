"""The verifier's dictionary in its compact form answers exactly as the plain table does."""

import gzip
import json
from pathlib import Path

import pytest
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
    for empty in (WordFrequencies(), WordFrequencies.from_table({})):
        assert not len(empty) and empty.get("list") == 0


def test_it_refuses_json_written_another_way():
    for text in ('{"b": 1, "a": 2}', '{\n"b": 1,\n"a": 2\n}', '{\n"a\\"b": 1\n}'):
        with pytest.raises(ValueError):
            WordFrequencies(text.encode())


def test_a_table_gives_the_same_answers():
    table = {"zürich": 7, "apple": 3, "über": 5, "a": 1, 'say "hi"': 2}
    compact = WordFrequencies.from_table(table)
    assert [compact.get(word) for word in ("a", "apple", "zürich", "über", "pear")] == [1, 3, 7, 5, 0]
    assert len(compact) == 4  # a word JSON must escape is left out

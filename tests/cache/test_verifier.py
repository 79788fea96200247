"""The semantic-cache verifier: paraphrases pass, every kind of near-miss is refused.

Pure functions, no model and no database: these run in milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.cache.verifier import DEFAULT_THRESHOLD, compare, is_typo, same_meaning, verify

CHAT_PAIRS = Path(__file__).resolve().parents[2] / "bench" / "data" / "chat_pairs.jsonl"

PARAPHRASES = {
    "typo": ("How do I reverse a list in Python?", "how do i reverse a lsit in python"),
    "typo, rare word": ("How do I install Docker?", "how do I instal docker"),
    "contraction": ("What's the best way to learn French?", "What is the best way to learn French?"),
    "negative contraction": ("Isn't it dangerous to swim after eating?", "Is it not dangerous to swim after eating?"),
    "inverted not": ("Why won't my car start?", "Why will my car not start?"),
    "politeness": ("Hi! Could you please tell me how to make pancakes?", "How do I make pancakes?"),
    "filler clause": ("If you don't mind, explain how vaccines work", "Explain how vaccines work"),
    "reorder": ("In Python, how do I read a CSV file?", "How do I read a CSV file in Python?"),
    "stranded preposition": ("At what temperature should I bake salmon?", "What temperature should I bake salmon at?"),
    "clause at the edge": ("Step by step, explain how to change a tire", "Explain how to change a tire step by step"),
    "synonym": ("How do I fix a flat tire on my bike?", "How do I repair a flat tire on my bicycle?"),
    "phrase synonym": ("How do I get rid of fruit flies?", "How do I eliminate fruit flies?"),
    # "a list" vs "lists" is refused (one vs several: tests/cache/test_verifier_near_misses.py)
    "inflection": ("How do I sort lists in Python?", "how do I sort list in python"),
    "question vs imperative": ("What is the capital of Peru?", "Tell me the capital of Peru"),
    "embedded question": ("Can you tell me what the speed of light is?", "What is the speed of light?"),
    "how-to scaffolds": ("How do I calculate compound interest?", "Show me how to calculate compound interest"),
    "punctuation and case": ("HOW DO I CHANGE MY PASSWORD", "How do I change my password?"),
    "number words": ("Give me twenty-one ideas for a party", "Give me 21 ideas for a party"),
    "compound": ("e-mail etiquette for work", "Email etiquette for work"),
    "british spelling": ("Summarise the plot of Hamlet", "Summarize the plot of Hamlet"),
}

NEAR_MISSES = {
    "entity": ("What is the capital of Australia?", "What is the capital of Austria?"),
    "number": ("Write a 500-word essay on climate change", "Write a 300-word essay on climate change"),
    "negative number": ("Convert -5 Celsius to Fahrenheit", "Convert 5 Celsius to Fahrenheit"),
    "date": ("Who won the Super Bowl in 2020?", "Who won the Super Bowl in 2021?"),
    "negation": ("Which foods are safe for dogs?", "Which foods are not safe for dogs?"),
    "negation by contraction": ("Why should I use a VPN?", "Why shouldn't I use a VPN?"),
    "negation moved over an adjective": ("Which foods are not safe to eat?", "Which foods are safe not to eat?"),
    "with vs without": ("How do I make a cake with eggs?", "How do I make a cake without eggs?"),
    "direction": ("How do I convert Celsius to Fahrenheit?", "How do I convert Fahrenheit to Celsius?"),
    "direction, from/to": ("How do I fly from New York to London?", "How do I fly from London to New York?"),
    "role swap": ("Write a letter from a tenant to a landlord", "Write a letter from a landlord to a tenant"),
    "subject/object swap": ("Why do cats chase mice?", "Why do mice chase cats?"),
    "comparison swap": ("Is Python faster than Java?", "Is Java faster than Python?"),
    "before/after": ("Does the market go up before or after an election?", "Does the market go up after or before an election?"),
    "unit": ("How many grams are in a pound?", "How many grams are in an ounce?"),
    "antonym": ("How do I enable dark mode in Chrome?", "How do I disable dark mode in Chrome?"),
    "scope": ("Delete all rows from the users table", "Delete the first row from the users table"),
    "operation": ("How do I sort a list in Python?", "How do I reverse a list in Python?"),
    "format": ("Convert this data to JSON", "Convert this data to YAML"),
    "audience": ("Explain quantum computing to a 5-year-old", "Explain quantum computing to a physics PhD"),
    "language": ("How do I declare an array in C?", "How do I declare an array in C#?"),
    "language, C++": ("Write a bubble sort in C++", "Write a bubble sort in C"),
    "version": ("What's new in Python 3.12?", "What's new in Python 3.11?"),
    "real word, not a typo": ("What is the capital of Australia?", "What is the capitol of Australia?"),
    "definition vs instance": ("What is a fruit?", "Name a fruit"),
    "how-to vs do it": ("How do I write a cover letter?", "Write a cover letter"),
    "tense": ("Who is the president of France?", "Who was the president of France?"),
    "quoted data after a colon": ("Translate to Korean: thank you", "Translate to Korean: good night"),
    "maths operator": ("What is 5 - 3?", "What is 5 * 3?"),
    "comparison operator": ("Is a < b when a = 1 and b = 2?", "Is a > b when a = 1 and b = 2?"),
    "us vs USA": ("Let us plan a trip", "Let USA plan a trip"),
    "emoji": ("I love 🍕, suggest a recipe", "I love 🍔, suggest a recipe"),
}


@pytest.mark.parametrize(("a", "b"), PARAPHRASES.values(), ids=PARAPHRASES.keys())
def test_it_accepts_a_paraphrase(a, b):
    assert same_meaning(a, b, similarity=0.9, threshold=0.75), verify(a, b, similarity=0.9).reason
    assert same_meaning(b, a, similarity=0.9, threshold=0.75), "the decision must be symmetric"


@pytest.mark.parametrize(("a", "b"), NEAR_MISSES.values(), ids=NEAR_MISSES.keys())
def test_it_refuses_a_near_miss_even_at_cosine_one(a, b):
    assert not same_meaning(a, b, similarity=1.0, threshold=0.75), verify(a, b, similarity=1.0).reason
    assert not same_meaning(b, a, similarity=1.0, threshold=0.75)


def test_below_the_threshold_nothing_is_accepted_not_even_the_same_text():
    assert not same_meaning("What is DNS?", "What is DNS?", similarity=0.5, threshold=0.75)
    assert same_meaning("What is DNS?", "What is DNS?", similarity=0.75, threshold=0.75)


def test_the_threshold_defaults_to_the_shipped_value():
    assert 0.0 < DEFAULT_THRESHOLD < 1.0
    assert same_meaning("What is DNS?", "what is dns", similarity=DEFAULT_THRESHOLD)


def test_a_refusal_says_why():
    verdict = verify("Convert 100 Celsius to Fahrenheit", "Convert 150 Celsius to Fahrenheit", similarity=0.99)
    assert not verdict.same and "100" in verdict.reason and "150" in verdict.reason
    assert "below" in verify("a", "b", similarity=0.1).reason


def test_greetings_alone_only_match_themselves():
    assert compare("Hello!", "hello").same
    assert not compare("Hi", "Thanks!").same


def test_code_never_hits_unless_identical_because_indentation_is_syntax():
    inside = "Fix this:\n```\nif x:\n    a()\n    b()\n```"
    outside = "Fix this:\n```\nif x:\n    a()\nb()\n```"
    assert not compare(inside, outside).same
    assert compare(inside, inside).same


def test_text_in_other_scripts_must_match_exactly():
    assert not compare("北京在哪里", "上海在哪里").same
    assert compare("北京在哪里?", "北京在哪里").same


@pytest.mark.parametrize(("typo", "word", "expected"), [
    ("lsit", "list", True),  # transposition, non-word
    ("recieve", "receive", True),
    ("instal", "install", True),  # a rare word next to a common one
    ("capitol", "capital", False),  # two real words
    ("austria", "australia", False),
    ("yoke", "yolk", False),
    ("https", "http", False),
    ("cat", "cut", False),  # too short to tell
    ("list", "mist", False),  # first letter differs
])
def test_typo_rule(typo, word, expected):
    assert is_typo(typo, word) is expected


def test_it_finds_one_changed_word_in_a_long_prompt():
    text = " ".join(f"Sentence number {i} talks about topic {i % 7} in detail." for i in range(300))
    assert compare(text, text).same
    assert not compare(text, text.replace("topic 3", "topic 4", 1)).same


def _chat_pairs() -> list[dict]:
    with CHAT_PAIRS.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def test_the_chat_set_covers_every_kind_in_both_splits():
    rows = _chat_pairs()
    assert len(rows) >= 300
    assert all({"a", "b", "same", "kind", "split"} <= row.keys() for row in rows)
    kinds = {(row["kind"], row["split"]) for row in rows}
    expected = {"typo", "contraction", "politeness", "reorder", "synonym", "question_imperative",
                "punctuation_case", "entity", "number", "date", "negation", "direction", "role_swap",
                "unit", "antonym", "scope", "operation", "format", "audience", "language", "version"}
    assert {kind for kind, _ in kinds} == expected
    assert all((kind, split) in kinds for kind in expected for split in ("dev", "test"))


def test_no_near_miss_of_the_chat_set_is_accepted():
    """Precision regression guard on the whole shipped set (cosine gate left out)."""
    wrong = [(r["a"], r["b"]) for r in _chat_pairs() if not r["same"] and compare(r["a"], r["b"]).same]
    assert wrong == []


def test_most_paraphrases_of_the_chat_set_are_accepted():
    """Recall regression guard: 0.92 measured without the cosine gate when this was written."""
    rows = [r for r in _chat_pairs() if r["same"]]
    accepted = sum(compare(r["a"], r["b"]).same for r in rows)
    assert accepted / len(rows) >= 0.85

"""Verifier rules added for issue 13: near-misses a typo allowance or a stemmer let through.

Examples are written here, not copied from the evaluation sets.
"""

from __future__ import annotations

import pytest

from apps.cache.verifier import compare

ONE_VS_SEVERAL = [
    ("Write a limerick about my cat", "Write limericks about my cat"),
    ("How do I drop a table in Postgres?", "How do I drop tables in Postgres?"),
    ("Give me one good reason to learn Latin", "Give me good reasons to learn Latin"),
    ("Suggest a short name for a sailing boat", "Suggest short names for a sailing boat"),
    ("How do I revert this change in git?", "How do I revert changes in git?"),
    ("Tell me a story about a brave child", "Tell me a story about brave children"),
]

SAME_NUMBER = [
    ("What are the benefits of standing desks?", "What are the benefits of standing desk?"),
    ("Write a limerick about my cat", "Could you write a limerick about my cat?"),
    ("How do I drop tables in Postgres?", "how do I drop tables in postgres"),
]

NAMES_ONE_LETTER_FROM_A_WORD = [
    ("How do I configure Vite for Vue?", "How do I configure vote for Vue?"),
    ("Is Deno good for a REST API?", "Is demo good for a REST API?"),
    ("What is the QUIC transport?", "What is the quick transport?"),
    ("Explain macros in Clojure", "Explain macros in closure"),
]

TYPOS_OF_ORDINARY_WORDS = [
    ("How do I configure Vite for Vue?", "How do I confgure Vite for Vue?"),
    ("What should I see in Barcelona?", "what should i see in barcelon"),
]

ACRONYM_PLURALS = [
    ("How do I set up SMTP on my server?", "How do I set up SMTPS on my server?"),
    ("What port does IMAP use?", "What port does IMAPS use?"),
    ("Is https slower than http?", "Is http slower than http?"),
]

CASED_UNITS = [
    ("Is a 100 Mb/s connection fast?", "Is a 100 MB/s connection fast?"),
    ("How big is a 5 MW turbine?", "How big is a 5 mW turbine?"),
    ("Convert 40 Nm to foot-pounds", "Convert 40 nm to foot-pounds"),
    ("Is 300 Mbps enough for gaming?", "Is 300 MBps enough for gaming?"),
]


@pytest.mark.parametrize(("a", "b"), ONE_VS_SEVERAL)
def test_it_refuses_one_thing_against_several(a, b):
    assert not compare(a, b).same
    assert not compare(b, a).same


@pytest.mark.parametrize(("a", "b"), SAME_NUMBER)
def test_it_accepts_the_same_number_written_differently(a, b):
    assert compare(a, b).same, compare(a, b).reason


@pytest.mark.parametrize(("a", "b"), NAMES_ONE_LETTER_FROM_A_WORD)
def test_it_does_not_read_a_name_as_a_typo_of_a_word(a, b):
    assert not compare(a, b).same
    assert not compare(b, a).same


@pytest.mark.parametrize(("a", "b"), TYPOS_OF_ORDINARY_WORDS)
def test_it_still_forgives_a_typo_next_to_a_name(a, b):
    assert compare(a, b).same, compare(a, b).reason


@pytest.mark.parametrize(("a", "b"), ACRONYM_PLURALS)
def test_it_keeps_a_trailing_s_that_is_part_of_a_name(a, b):
    assert not compare(a, b).same


def test_it_still_treats_a_dictionary_plural_as_the_same_word():
    assert compare("Which fruits are high in fibre?", "which fruit are high in fibre").same


@pytest.mark.parametrize(("a", "b"), CASED_UNITS)
def test_it_keeps_the_case_of_a_unit_after_a_number(a, b):
    assert not compare(a, b).same


def test_it_ignores_case_of_ordinary_words_after_a_number():
    assert compare("Plan 3 Days in Rome", "plan 3 days in rome").same
    assert compare("Is 100 MB/s fast?", "is 100 MB/s fast").same

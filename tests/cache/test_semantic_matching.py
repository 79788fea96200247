"""Paraphrases of a cached question hit; near-misses (another entity, number, direction,
negation...) never do, however close their embeddings."""

import pytest

from tests.cache.conftest import ask, recall, remember

pytestmark = pytest.mark.django_db(transaction=True)

PARAPHRASES = [
    ("How do I reverse a list in Python?", "how do i reverse a list in python"),
    ("How do I reverse a list in Python?", "How can I reverse a list in Python?"),
    ("What is the capital of Australia?", "Could you please tell me the capital of Australia?"),
    ("Convert 100 Celsius to Fahrenheit", "convert 100 celsius to fahrenheit please"),
]
NEAR_MISSES = [
    ("What is the capital of Australia?", "What is the capital of Austria?"),  # entity
    ("Convert 100 Celsius to Fahrenheit", "Convert 100 Fahrenheit to Celsius"),  # direction
    ("Convert 100 Celsius to Fahrenheit", "Convert 150 Celsius to Fahrenheit"),  # number
    ("Is Python a compiled language?", "Is Python not a compiled language?"),  # negation
    ("Write a letter from a tenant to a landlord", "Write a letter from a landlord to a tenant"),  # roles
    ("How do I sort a list in Python?", "How do I sort a list in JavaScript?"),  # language
]


@pytest.mark.parametrize(("cached", "asked"), PARAPHRASES)
def test_it_serves_a_paraphrase_from_the_semantic_cache(namespace, cached, asked):
    remember(ask(cached, temperature=0), namespace=namespace, text="the answer")
    found = recall(ask(asked, temperature=0), namespace=namespace)
    assert found is not None and found.kind == "semantic"
    assert found.completion["choices"][0]["message"]["content"] == "the answer"


@pytest.mark.parametrize(("cached", "asked"), NEAR_MISSES)
def test_it_never_serves_a_near_miss(namespace, cached, asked):
    remember(ask(cached, temperature=0), namespace=namespace)
    assert recall(ask(asked, temperature=0), namespace=namespace) is None


def test_it_picks_the_candidate_that_means_the_same_over_a_closer_one(namespace):
    remember(ask("Convert 100 Fahrenheit to Celsius", temperature=0), namespace=namespace, text="wrong way")
    remember(ask("Please convert 100 Celsius to Fahrenheit", temperature=0), namespace=namespace, text="right way")
    found = recall(ask("Convert 100 Celsius to Fahrenheit", temperature=0), namespace=namespace)
    assert found.completion["choices"][0]["message"]["content"] == "right way"

"""No lookup ever crosses cache namespaces, in either cache; a shared namespace shares."""

import pytest

from tests.cache.conftest import ask, recall, remember

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "What is the capital of France?"


def test_it_serves_an_exact_answer_only_in_its_own_namespace(redis_url, namespace, other_namespace):
    remember(ask(QUESTION), namespace=namespace, text="Paris.")
    assert recall(ask(QUESTION), namespace=namespace).kind == "exact"
    assert recall(ask(QUESTION), namespace=other_namespace) is None


def test_it_serves_a_semantic_answer_only_in_its_own_namespace(namespace, other_namespace):
    remember(ask(QUESTION, temperature=0), namespace=namespace, text="Paris.")
    paraphrase = ask("what's the capital of France", temperature=0)
    found = recall(paraphrase, namespace=namespace)
    assert found.kind == "semantic" and found.completion["choices"][0]["message"]["content"] == "Paris."
    assert recall(paraphrase, namespace=other_namespace) is None
    assert recall(ask(QUESTION, temperature=0), namespace=other_namespace) is None


def test_it_shares_answers_between_keys_of_one_namespace(redis_url, transactional_db, namespace):
    from apps.keys.registry import _from_model
    from apps.keys.services import key_create

    first, _ = key_create(name="team-a-1", cache_namespace=namespace)
    second, _ = key_create(name="team-a-2", cache_namespace=namespace)
    loner, _ = key_create(name="loner")
    remember(ask(QUESTION), namespace=_from_model(first).namespace)
    assert recall(ask(QUESTION), namespace=_from_model(second).namespace).kind == "exact"
    assert recall(ask(QUESTION), namespace=_from_model(loner).namespace) is None

"""The same words in another context never hit: system prompt, earlier turns, model,
tools, response format and sampling parameters must all match exactly."""

import pytest

from tests.cache.conftest import recall, remember

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "What is a good name for a cat?"


def conversation(question: str, *, system: str = "You are a helpful assistant.", **fields):
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    return {"model": "gpt-4o", "messages": messages, "temperature": 0, **fields}


@pytest.fixture
def cached(namespace):
    remember(conversation(QUESTION), namespace=namespace, text="Whiskers")
    assert recall(conversation("what's a good name for a cat"), namespace=namespace).kind == "semantic"


@pytest.mark.parametrize("changed", [
    {"system": "You answer in French."},
    {"model": "gpt-4-turbo"},
    {"temperature": 0.3},
    {"max_tokens": 5},
    {"response_format": {"type": "json_object"}},
    {"tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]},
])
def test_it_never_hits_across_scopes(namespace, cached, changed):
    assert recall(conversation("what's a good name for a cat", **changed), namespace=namespace) is None
    assert recall(conversation(QUESTION, **changed), namespace=namespace) is None


def test_it_never_hits_after_other_earlier_turns(namespace, cached):
    payload = conversation(QUESTION)
    payload["messages"][1:1] = [{"role": "user", "content": "I have a dog."}, {"role": "assistant", "content": "Nice!"}]
    assert recall(payload, namespace=namespace) is None


def test_it_compares_only_a_final_user_message(namespace, cached):
    payload = conversation(QUESTION)
    payload["messages"].append({"role": "assistant", "content": "Whiskers"})
    assert recall(payload, namespace=namespace) is None

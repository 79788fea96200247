"""The exact-cache key: everything that changes the answer, nothing that does not."""

import pytest

from apps.cache.canonical import exact_digest, exact_key, semantic_scope

BASE = {
    "model": "gpt-4o",
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is DNS?"}],
}
TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}

# Each of these, added to BASE, must give another key.
ANSWER_CHANGING = {
    "model": {"model": "gpt-4-turbo"},
    "messages (last)": {"messages": [BASE["messages"][0], {"role": "user", "content": "What is DHCP?"}]},
    "messages (system)": {"messages": [{"role": "system", "content": "Be verbose."}, BASE["messages"][1]]},
    "messages (earlier turn)": {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                                             BASE["messages"][1]]},
    "temperature": {"temperature": 0.2},
    "top_p": {"top_p": 0.5},
    "n": {"n": 2},
    "stop": {"stop": ["\n"]},
    "max_tokens": {"max_tokens": 50},
    "max_completion_tokens": {"max_completion_tokens": 50},
    "seed": {"seed": 7},
    "tools": {"tools": [TOOL]},
    "tool_choice": {"tool_choice": "none"},
    "response_format": {"response_format": {"type": "json_object"}},
    "presence_penalty": {"presence_penalty": 0.5},
    "frequency_penalty": {"frequency_penalty": 0.5},
    "unknown passthrough field": {"logit_bias": {"50256": -100}},
    "reasoning_effort": {"reasoning_effort": "high"},
}


@pytest.mark.parametrize("field", ANSWER_CHANGING)
def test_it_changes_the_key_for_every_field_that_changes_the_answer(field):
    assert exact_digest({**BASE, **ANSWER_CHANGING[field]}, namespace="ns") != exact_digest(BASE, namespace="ns")


def test_it_tells_max_tokens_from_max_completion_tokens():
    one = exact_digest({**BASE, "max_tokens": 50}, namespace="ns")
    other = exact_digest({**BASE, "max_completion_tokens": 50}, namespace="ns")
    assert one != other


@pytest.mark.parametrize("fields", [
    {"stream": True},
    {"stream": True, "stream_options": {"include_usage": True}},
    {"user": "end-user-42"},
    {"metadata": {"trace": "abc"}},
    {"temperature": None},
])
def test_it_keeps_the_key_for_fields_that_do_not_change_the_answer(fields):
    assert exact_digest({**BASE, **fields}, namespace="ns") == exact_digest(BASE, namespace="ns")


def test_it_ignores_the_order_of_keys_at_every_depth():
    reordered = {"messages": [{"content": "Be brief.", "role": "system"}, {"content": "What is DNS?", "role": "user"}],
                 "model": "gpt-4o"}
    assert exact_digest(reordered, namespace="ns") == exact_digest(BASE, namespace="ns")


def test_it_treats_integer_and_float_temperatures_alike():
    assert exact_digest({**BASE, "temperature": 1}, namespace="ns") == exact_digest({**BASE, "temperature": 1.0}, namespace="ns")


def test_it_puts_the_namespace_in_the_key():
    assert exact_digest(BASE, namespace="tenant-a") != exact_digest(BASE, namespace="tenant-b")
    assert exact_key(BASE, namespace="tenant-a").startswith("cache:exact:tenant-a:")


def test_it_encodes_namespaces_so_one_cannot_match_another():
    assert exact_key(BASE, namespace="a:b*").startswith("cache:exact:a%3Ab%2A:")


def test_it_scopes_semantic_lookups_on_everything_but_the_final_question():
    other_question = {**BASE, "messages": [BASE["messages"][0], {"role": "user", "content": "Explain DNS"}]}
    assert semantic_scope(other_question, namespace="ns") == semantic_scope(BASE, namespace="ns")
    for field in ("model", "messages (system)", "temperature", "tools", "response_format"):
        assert semantic_scope({**BASE, **ANSWER_CHANGING[field]}, namespace="ns") != semantic_scope(BASE, namespace="ns")
    assert semantic_scope(BASE, namespace="other") != semantic_scope(BASE, namespace="ns")

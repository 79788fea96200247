"""System extraction, role mapping and merging of consecutive same-role messages."""

from __future__ import annotations

import pytest

from gateway_site.errors import InvalidRequest

from .helpers import assistant, chat, user


def anthropic_body(adapter, route, *messages, **fields):
    return adapter.build_request(chat(*messages, **fields), route=route, stream=False).json


def text(value):
    return {"type": "text", "text": value}


def test_it_moves_system_and_developer_messages_into_anthropic_system(anthropic, anthropic_route):
    body = anthropic_body(anthropic, anthropic_route,
                          {"role": "system", "content": "Be terse."}, user("Hi"),
                          {"role": "developer", "content": [text("Answer in "), text("French.")]})
    assert body["system"] == "Be terse.\n\nAnswer in French."
    assert body["messages"] == [{"role": "user", "content": [text("Hi")]}]


def test_it_moves_system_messages_into_gemini_system_instruction(gemini, gemini_route):
    request = gemini.build_request(chat({"role": "system", "content": "Be terse."},
                                        {"role": "developer", "content": "Use metric units."}, user("Hi")),
                                   route=gemini_route, stream=False)
    assert request.json["systemInstruction"] == {"parts": [{"text": "Be terse."}, {"text": "Use metric units."}]}
    assert request.json["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]


def test_it_merges_consecutive_same_role_messages_for_anthropic(anthropic, anthropic_route):
    body = anthropic_body(anthropic, anthropic_route, user("One."), user([text("Two.")]),
                          assistant("Three."), assistant("Four."), user("Five."))
    assert body["messages"] == [
        {"role": "user", "content": [text("One."), text("Two.")]},
        {"role": "assistant", "content": [text("Three."), text("Four.")]},
        {"role": "user", "content": [text("Five.")]},
    ]


def test_it_merges_consecutive_same_role_messages_for_gemini(gemini, gemini_route):
    request = gemini.build_request(chat(user("One."), user("Two."), assistant("Three."), assistant("Four.")),
                                   route=gemini_route, stream=False)
    assert request.json["contents"] == [
        {"role": "user", "parts": [{"text": "One."}, {"text": "Two."}]},
        {"role": "model", "parts": [{"text": "Three."}, {"text": "Four."}]},
    ]


def test_it_merges_turns_across_a_system_message_in_between(anthropic, anthropic_route):
    body = anthropic_body(anthropic, anthropic_route, user("A"), {"role": "system", "content": "S"}, user("B"))
    assert body["messages"] == [{"role": "user", "content": [text("A"), text("B")]}]


def test_it_starts_an_anthropic_conversation_with_a_user_turn(anthropic, anthropic_route):
    body = anthropic_body(anthropic, anthropic_route, {"role": "system", "content": "S"}, assistant("Hello."),
                          user("Hi"))
    assert body["messages"][0] == {"role": "user", "content": [text(".")]}
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


def test_it_drops_empty_text_and_names(anthropic, anthropic_route, gemini, gemini_route):
    messages = [user([text(""), text("Hi")]), {"role": "user", "content": "", "name": "alice"},
                assistant(""), user("Again")]
    assert anthropic_body(anthropic, anthropic_route, *messages)["messages"] == [
        {"role": "user", "content": [text("Hi"), text("Again")]}]
    contents = gemini.build_request(chat(*messages), route=gemini_route, stream=False).json["contents"]
    assert contents == [{"role": "user", "parts": [{"text": "Hi"}, {"text": "Again"}]}]


def test_it_strips_trailing_whitespace_from_an_anthropic_prefill(anthropic, anthropic_route):
    body = anthropic_body(anthropic, anthropic_route, user("Write JSON"), assistant("{ \n"))
    assert body["messages"][-1] == {"role": "assistant", "content": [text("{")]}


def test_it_joins_assistant_text_and_refusal_parts(anthropic, anthropic_route):
    body = anthropic_body(anthropic, anthropic_route, user("Hi"),
                          assistant([text("No: "), {"type": "refusal", "refusal": "I can't."}]), user("ok"))
    assert body["messages"][1] == {"role": "assistant", "content": [text("No: I can't.")]}


@pytest.mark.parametrize("message, param", [
    ({"role": "function", "name": "f", "content": "x"}, "messages[1].role"),
    ({"content": "no role"}, "messages[1].role"),
    ("just a string", "messages[1].role"),
    ({"role": "user", "content": 42}, "messages[1].content"),
    ({"role": "user", "content": [{"text": "no type"}]}, "messages[1].content[0]"),
    ({"role": "user", "content": [{"type": "text", "text": None}]}, "messages[1].content[0]"),
    ({"role": "system", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}}]},
     "messages[1].content[0]"),
    ({"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
     "messages[1].function_call"),
])
@pytest.mark.parametrize("protocol", ["anthropic", "gemini"])
def test_it_refuses_malformed_messages_with_the_param(protocol, message, param, request):
    adapter, route = request.getfixturevalue(protocol), request.getfixturevalue(f"{protocol}_route")
    with pytest.raises(InvalidRequest) as caught:
        adapter.build_request(chat(user("Hi"), message), route=route, stream=False)
    assert caught.value.param == param
    assert caught.value.status == 400

"""A Responses request becomes a chat payload, and a chat answer a response (pure)."""

import pytest

from apps.completions.ingress.responses import (
    chat_payload,
    read_responses_request,
    response_from_completion,
)
from gateway_site.errors import InvalidRequest


def payload_for(body: dict, history: list | None = None) -> dict:
    return chat_payload(read_responses_request({"model": "gpt-4o", **body}), history or [])


def test_it_puts_instructions_first_and_reads_developer_as_system():
    chat = payload_for({"instructions": "Be terse.", "input": [{"role": "developer", "content": "English only."},
                                                                {"role": "user", "content": "hi"}]})
    assert chat["messages"] == [{"role": "system", "content": "Be terse."}, {"role": "system", "content": "English only."},
                                {"role": "user", "content": "hi"}]


def test_it_joins_a_text_and_the_calls_after_it_into_one_assistant_turn():
    chat = payload_for({"input": [
        {"role": "user", "content": "Weather?"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me check."}]},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
        {"type": "function_call", "call_id": "c2", "name": "get_weather", "arguments": '{"city":"Bergen"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "rain"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "sun"}]},
    ]})
    assistant = chat["messages"][1]
    assert assistant["content"] == "Let me check." and [call["id"] for call in assistant["tool_calls"]] == ["c1", "c2"]
    assert chat["messages"][2:] == [{"role": "tool", "tool_call_id": "c1", "content": "rain"},
                                    {"role": "tool", "tool_call_id": "c2", "content": "sun"}]


def test_it_continues_after_the_history():
    history = [{"type": "message", "role": "user", "content": "My name is Ada"},
               {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello Ada"}]}]
    chat = payload_for({"input": "Name?", "instructions": "Be kind."}, history)
    assert [m["content"] for m in chat["messages"]] == ["Be kind.", "My name is Ada", "Hello Ada", "Name?"]


def test_it_translates_images_tools_format_and_limits():
    chat = payload_for({
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "What is it?"},
                                               {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]}],
        "tools": [{"type": "function", "name": "look", "parameters": {"type": "object"}, "strict": True}],
        "tool_choice": {"type": "function", "name": "look"},
        "text": {"format": {"type": "json_schema", "name": "thing", "schema": {"type": "object"}, "strict": True}},
        "max_output_tokens": 50, "temperature": 0.2, "stream": True,
    })
    assert chat["messages"][0]["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "auto"}}
    assert chat["tools"] == [{"type": "function", "function": {"name": "look", "parameters": {"type": "object"}, "strict": True}}]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "look"}}
    assert chat["response_format"] == {"type": "json_schema", "json_schema": {"name": "thing", "schema": {"type": "object"}, "strict": True}}
    assert (chat["max_tokens"], chat["temperature"], chat["stream_options"]) == (50, 0.2, {"include_usage": True})


@pytest.mark.parametrize(("body", "param"), [
    ({"input": "hi", "tools": [{"type": "web_search"}]}, "tools[0].type"),
    ({"input": [{"type": "item_reference", "id": "x"}]}, "input[0].type"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}, "input[0].content[0].type"),
    ({"input": []}, "input"),
    ({"input": "hi", "background": True}, "background"),
    ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
])
def test_it_refuses_what_chat_cannot_express_naming_the_field(body, param):
    with pytest.raises(InvalidRequest) as raised:
        payload_for(body)
    assert raised.value.param == param


def test_it_says_incomplete_when_the_answer_hit_max_output_tokens():
    ask = read_responses_request({"model": "gpt-4o", "input": "hi", "max_output_tokens": 2})
    completion = {"created": 1, "model": "gpt-4o", "usage": {"prompt_tokens": 1, "completion_tokens": 2},
                  "choices": [{"message": {"role": "assistant", "content": "Two words"}, "finish_reason": "length"}]}
    response = response_from_completion(ask, completion, response_id="resp_abc")
    assert (response["status"], response["incomplete_details"]) == ("incomplete", {"reason": "max_output_tokens"})
    assert response["output"][0]["content"][0]["text"] == "Two words"
    assert response["usage"]["total_tokens"] == 3

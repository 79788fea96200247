"""response_format: JSON mode and structured outputs."""

from __future__ import annotations

import pytest

from gateway_site.errors import InvalidRequest

from .helpers import chat, user

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
          "additionalProperties": False}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True}}


def build(adapter, route, fmt):
    return adapter.build_request(chat(user("Reply in JSON"), response_format=fmt), route=route, stream=False).json


def test_it_sends_a_json_schema_as_anthropic_output_config(anthropic, anthropic_route):
    body = build(anthropic, anthropic_route, JSON_SCHEMA)
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}


@pytest.mark.parametrize("kind", ["text", "json_object"])
def test_it_sends_nothing_to_anthropic_for_text_or_json_object(anthropic, anthropic_route, kind):
    # [decision] json_object: Anthropic has no schema-less JSON mode; the prompt already asks.
    assert "output_config" not in build(anthropic, anthropic_route, {"type": kind})


def test_it_asks_gemini_for_json(gemini, gemini_route):
    assert build(gemini, gemini_route, {"type": "json_object"})["generationConfig"] == {
        "responseMimeType": "application/json"}
    assert build(gemini, gemini_route, JSON_SCHEMA)["generationConfig"] == {
        "responseMimeType": "application/json", "responseJsonSchema": SCHEMA}
    assert "generationConfig" not in build(gemini, gemini_route, {"type": "text"})


@pytest.mark.parametrize("fmt", [{"type": "json_schema", "json_schema": {"name": "x"}}, {"type": "yaml"}, "json"])
@pytest.mark.parametrize("protocol", ["anthropic", "gemini"])
def test_it_refuses_a_response_format_it_cannot_translate(protocol, fmt, request):
    adapter, route = request.getfixturevalue(protocol), request.getfixturevalue(f"{protocol}_route")
    with pytest.raises(InvalidRequest) as caught:
        build(adapter, route, fmt)
    assert caught.value.param == "response_format"

"""Upstream error bodies become UpstreamFailure (A4, B4, C4)."""

from __future__ import annotations

import pytest

from .helpers import fixture_bytes

CASES = [
    ("openai", 401, "error_invalid_api_key.json", "invalid_api_key", "Incorrect API key provided", True),
    ("openai", 429, "error_rate_limit.json", "rate_limit_exceeded", "Rate limit reached", False),
    ("anthropic", 529, "error_overloaded.json", "overloaded_error", "Overloaded", False),
    ("anthropic", 401, "error_authentication.json", "authentication_error", "invalid x-api-key", True),
    ("anthropic", 400, "error_invalid_request.json", "invalid_request_error", "messages.1.content", False),
    ("gemini", 400, "error_api_key_invalid.json", "INVALID_ARGUMENT", "API key not valid", True),
    ("gemini", 429, "error_resource_exhausted.json", "RESOURCE_EXHAUSTED", "You exceeded your current quota", False),
    ("gemini", 400, "error_invalid_argument.json", "INVALID_ARGUMENT", "* GenerateContentRequest.contents", False),
]


@pytest.mark.parametrize("protocol, status, name, upstream_type, message, auth_failure", CASES)
def test_it_reads_recorded_error_bodies(protocol, status, name, upstream_type, message, auth_failure, request):
    failure = request.getfixturevalue(protocol).parse_error(status, fixture_bytes(protocol, name))
    assert failure.status == status
    assert failure.upstream_type == upstream_type
    assert failure.message.startswith(message)
    assert failure.auth_failure is auth_failure


def test_it_reads_a_gemini_error_in_the_array_form(gemini):
    body = b'[{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}]'
    failure = gemini.parse_error(503, body)
    assert (failure.message, failure.upstream_type) == ("The model is overloaded.", "UNAVAILABLE")


def test_it_reads_an_openai_compatible_server_with_a_string_error(openai):
    failure = openai.parse_error(400, b'{"error": "model not loaded"}')
    assert (failure.message, failure.upstream_type) == ("model not loaded", None)


@pytest.mark.parametrize("protocol", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("body", [b'{"detail": "Not Found"}', b"[]", b'"oops"', b'{"error": null}'])
def test_it_falls_back_to_the_body_text_for_unknown_json_shapes(protocol, body, request):
    failure = request.getfixturevalue(protocol).parse_error(404, body)
    assert failure.message == body.decode()
    assert failure.upstream_type is None

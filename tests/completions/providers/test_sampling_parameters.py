"""max tokens, temperature, top_p, n, stop, penalties, seed, logprobs and user."""

from __future__ import annotations

import pytest

from gateway_site.errors import InvalidRequest

from .helpers import chat, make_route, user


def anthropic_body(adapter, route, **fields):
    return adapter.build_request(chat(user("Hi"), **fields), route=route, stream=False).json


def gemini_config(adapter, route, **fields):
    return adapter.build_request(chat(user("Hi"), **fields), route=route, stream=False).json.get("generationConfig")


@pytest.mark.parametrize("fields, expected", [
    ({"max_completion_tokens": 300, "max_tokens": 100}, 300),
    ({"max_tokens": 100}, 100),
    ({"max_completion_tokens": 300}, 300),
])
def test_it_maps_max_tokens_with_max_completion_tokens_winning(anthropic, anthropic_route, gemini, gemini_route,
                                                                 fields, expected):
    assert anthropic_body(anthropic, anthropic_route, **fields)["max_tokens"] == expected
    assert gemini_config(gemini, gemini_route, **fields)["maxOutputTokens"] == expected


def test_it_gives_anthropic_a_default_max_tokens(anthropic):
    assert anthropic_body(anthropic, make_route("anthropic", default_max_tokens=2048))["max_tokens"] == 2048
    route = make_route("anthropic", default_max_tokens=2048, max_tokens_default=8192)
    assert anthropic_body(anthropic, route)["max_tokens"] == 8192


def test_it_leaves_gemini_without_a_config_when_nothing_is_set(gemini, gemini_route):
    assert gemini_config(gemini, gemini_route) is None


def test_it_maps_sampling_fields_to_anthropic(anthropic, anthropic_route):
    body = anthropic_body(anthropic, anthropic_route, temperature=0.3, top_p=0.9, n=1, stop=["END", "  ", "\n"],
                          user="user-42")
    assert (body["temperature"], body["top_p"]) == (0.3, 0.9)
    assert body["stop_sequences"] == ["END"], "whitespace-only stops are refused upstream"
    assert body["metadata"] == {"user_id": "user-42"}
    assert "n" not in body


def test_it_turns_a_single_stop_string_into_a_list(anthropic, anthropic_route, gemini, gemini_route):
    assert anthropic_body(anthropic, anthropic_route, stop="END")["stop_sequences"] == ["END"]
    assert gemini_config(gemini, gemini_route, stop="\n")["stopSequences"] == ["\n"]


def test_it_drops_fields_anthropic_has_no_equivalent_for(anthropic, anthropic_route):
    body = anthropic_body(anthropic, anthropic_route, presence_penalty=0.5, frequency_penalty=0.2, seed=7,
                          logprobs=True, top_logprobs=2, logit_bias={"1": 2}, some_future_field=True)
    assert set(body) == {"model", "max_tokens", "messages"}


def test_it_refuses_an_anthropic_temperature_above_one(anthropic, anthropic_route):
    with pytest.raises(InvalidRequest) as caught:
        anthropic_body(anthropic, anthropic_route, temperature=1.5)
    assert (caught.value.param, caught.value.status, caught.value.type) == ("temperature", 400,
                                                                           "invalid_request_error")


def test_it_refuses_several_choices_from_anthropic(anthropic, anthropic_route):
    with pytest.raises(InvalidRequest) as caught:
        anthropic_body(anthropic, anthropic_route, n=2)
    assert caught.value.param == "n"


def test_it_maps_sampling_fields_to_gemini_generation_config(gemini, gemini_route):
    config = gemini_config(gemini, gemini_route, temperature=1.5, top_p=0.9, n=2, stop=["END"], seed=7,
                           presence_penalty=0.5, frequency_penalty=-0.5, logprobs=True, top_logprobs=3,
                           max_tokens=64, user="dropped")
    assert config == {"temperature": 1.5, "topP": 0.9, "candidateCount": 2, "stopSequences": ["END"], "seed": 7,
                      "presencePenalty": 0.5, "frequencyPenalty": -0.5, "responseLogprobs": True, "logprobs": 3,
                      "maxOutputTokens": 64}


@pytest.mark.parametrize("protocol", ["anthropic", "gemini"])
def test_it_refuses_a_stop_that_is_not_strings(protocol, request):
    adapter, route = request.getfixturevalue(protocol), request.getfixturevalue(f"{protocol}_route")
    with pytest.raises(InvalidRequest) as caught:
        adapter.build_request(chat(user("Hi"), stop=[1, 2]), route=route, stream=False)
    assert caught.value.param == "stop"


def test_it_builds_the_stream_url_and_flags(anthropic, anthropic_route, gemini, gemini_route):
    assert anthropic.build_request(chat(user("Hi")), route=anthropic_route, stream=True).json["stream"] is True
    assert "stream" not in anthropic_body(anthropic, anthropic_route)
    assert anthropic.build_request(chat(user("Hi")), route=anthropic_route, stream=True).url == \
        "https://api.anthropic.com/v1/messages"
    base = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash-001"
    assert gemini.build_request(chat(user("Hi")), route=gemini_route, stream=False).url == f"{base}:generateContent"
    assert gemini.build_request(chat(user("Hi")), route=gemini_route, stream=True).url == \
        f"{base}:streamGenerateContent?alt=sse"


def test_it_sends_the_anthropic_version_header(anthropic, anthropic_route):
    headers = anthropic.build_request(chat(user("Hi")), route=anthropic_route, stream=False).headers
    assert headers == {"x-api-key": "anthropic-secret", "anthropic-version": "2023-06-01"}


@pytest.mark.parametrize("user_id", ["alice@example.com", "+47 912 34 567"])
def test_it_skips_an_anthropic_user_id_that_is_an_email_or_phone_number(anthropic, anthropic_route, user_id):
    assert "metadata" not in anthropic_body(anthropic, anthropic_route, user=user_id)


def test_it_keeps_an_opaque_numeric_user_id(anthropic, anthropic_route):
    assert anthropic_body(anthropic, anthropic_route, user="12345678")["metadata"] == {"user_id": "12345678"}

"""image_url content parts: data URLs become inline data, web URLs become references."""

from __future__ import annotations

import pytest

from gateway_site.errors import InvalidRequest

from .helpers import chat, user

PNG_DATA = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def image(url, **extra):
    return {"type": "image_url", "image_url": {"url": url, **extra}}


def anthropic_blocks(adapter, route, *parts):
    return adapter.build_request(chat(user(list(parts))), route=route, stream=False).json["messages"][0]["content"]


def gemini_parts(adapter, route, *parts):
    return adapter.build_request(chat(user(list(parts))), route=route, stream=False).json["contents"][0]["parts"]


def test_it_sends_a_data_url_as_an_anthropic_base64_source(anthropic, anthropic_route):
    blocks = anthropic_blocks(anthropic, anthropic_route, {"type": "text", "text": "What is this?"},
                              image(f"data:image/png;base64,{PNG_DATA}", detail="high"))
    assert blocks[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_DATA}}


def test_it_sends_an_https_url_as_an_anthropic_url_source(anthropic, anthropic_route):
    blocks = anthropic_blocks(anthropic, anthropic_route, image("https://example.com/cat"))
    assert blocks == [{"type": "image", "source": {"type": "url", "url": "https://example.com/cat"}}]


def test_it_sends_a_data_url_as_gemini_inline_data(gemini, gemini_route):
    parts = gemini_parts(gemini, gemini_route, image(f"data:image/jpeg;base64,{PNG_DATA}"))
    assert parts == [{"inlineData": {"mimeType": "image/jpeg", "data": PNG_DATA}}]


@pytest.mark.parametrize("url, mime_type", [
    ("https://example.com/photos/cat.JPG?size=large", "image/jpeg"),
    ("https://example.com/a.webp", "image/webp"),
    ("gs://bucket/scan.png", "image/png"),
])
def test_it_sends_a_web_url_as_gemini_file_data_with_a_guessed_type(gemini, gemini_route, url, mime_type):
    assert gemini_parts(gemini, gemini_route, image(url)) == [{"fileData": {"mimeType": mime_type, "fileUri": url}}]


def test_it_refuses_a_gemini_url_whose_type_cannot_be_guessed(gemini, gemini_route):
    with pytest.raises(InvalidRequest) as caught:
        gemini_parts(gemini, gemini_route, {"type": "text", "text": "x"}, image("https://example.com/cat"))
    assert caught.value.param == "messages[0].content[1].image_url.url"


def test_it_refuses_an_image_type_anthropic_cannot_read(anthropic, anthropic_route):
    with pytest.raises(InvalidRequest, match="image/bmp"):
        anthropic_blocks(anthropic, anthropic_route, image(f"data:image/bmp;base64,{PNG_DATA}"))


@pytest.mark.parametrize("url", ["data:image/png,not-base64", "data:image/png;base64,", "ftp://example.com/a.png",
                                 "file:///etc/passwd.png", ""])
@pytest.mark.parametrize("protocol", ["anthropic", "gemini"])
def test_it_refuses_unusable_image_urls(protocol, url, request):
    adapter, route = request.getfixturevalue(protocol), request.getfixturevalue(f"{protocol}_route")
    with pytest.raises(InvalidRequest) as caught:
        adapter.build_request(chat(user([image(url)])), route=route, stream=False)
    assert caught.value.param == "messages[0].content[0].image_url.url"


@pytest.mark.parametrize("part", [
    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
    {"type": "file", "file": {"file_id": "file-1"}},
])
@pytest.mark.parametrize("protocol", ["anthropic", "gemini"])
def test_it_refuses_unsupported_content_parts(protocol, part, request):
    adapter, route = request.getfixturevalue(protocol), request.getfixturevalue(f"{protocol}_route")
    with pytest.raises(InvalidRequest, match=part["type"]) as caught:
        adapter.build_request(chat(user([{"type": "text", "text": "x"}, part])), route=route, stream=False)
    assert caught.value.param == "messages[0].content[1]"

"""POST /v1/embeddings with the official openai SDK against the running gateway: OpenAI
and Gemini at the fake upstream, and the local model."""

import base64

import numpy as np
import openai
import pytest

from tests.embeddings.conftest import MODELS
from tests.fakes.protocols.embeddings import fake_vector

pytestmark = pytest.mark.django_db(transaction=True)


def as_array(embedding) -> np.ndarray:
    return np.asarray(embedding, dtype=np.float32)


@pytest.mark.parametrize(("model", "dimensions"), MODELS.items())
def test_it_embeds_a_string_with_the_sdks_defaults(uncached_sdk, model, dimensions):
    # The SDK asks for base64 unless told otherwise, and decodes it into floats.
    result = uncached_sdk.embeddings.create(model=model, input="The cat sat on the mat")
    [item] = result.data
    assert result.model == model and item.index == 0
    vector = as_array(item.embedding)
    assert vector.shape == (dimensions,)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-4)
    assert result.usage.prompt_tokens > 0 and result.usage.total_tokens == result.usage.prompt_tokens


@pytest.mark.parametrize("model", ["text-embedding-3-small", "gemini-embedding-001"])
def test_it_returns_the_providers_vectors(uncached_sdk, model):
    texts = ["first text", "second text", "third text"]
    result = uncached_sdk.embeddings.create(model=model, input=texts, encoding_format="float")
    assert [item.index for item in result.data] == [0, 1, 2]
    for text, item in zip(texts, result.data):
        np.testing.assert_allclose(as_array(item.embedding), fake_vector(text, MODELS[model], native=MODELS[model]),
                                   rtol=0, atol=1e-6)


@pytest.mark.parametrize("model", MODELS)
def test_it_gives_the_same_vectors_as_floats_and_as_base64(uncached_sdk, model):
    texts = ["alpha beta", "gamma delta"]
    floats = uncached_sdk.embeddings.create(model=model, input=texts, encoding_format="float")
    encoded = uncached_sdk.embeddings.create(model=model, input=texts, encoding_format="base64")
    for as_floats, as_base64 in zip(floats.data, encoded.data):
        assert isinstance(as_floats.embedding, list) and isinstance(as_base64.embedding, str)
        decoded = np.frombuffer(base64.b64decode(as_base64.embedding), dtype="<f4")
        np.testing.assert_array_equal(decoded, as_array(as_floats.embedding))


def test_it_serves_the_local_models_own_fp32_vectors_whatever_the_batch(uncached_sdk):
    # The semantic cache's int8 model moves a vector a little with its batch; the API must not.
    from apps.cache.embedder import embed_sync

    texts = ["How do I reset my password?", "What is the capital of France?"]
    result = uncached_sdk.embeddings.create(model="all-minilm-l6-v2", input=texts)
    alone = uncached_sdk.embeddings.create(model="all-minilm-l6-v2", input=texts[1])
    for text, item in zip(texts, result.data):
        np.testing.assert_allclose(as_array(item.embedding), as_array(embed_sync([text], "onnx")[0]), atol=1e-5)
    np.testing.assert_allclose(as_array(alone.data[0].embedding), as_array(result.data[1].embedding), atol=1e-5)
    assert result.usage.prompt_tokens == 7 + 7  # word pieces: "how do i reset my password ?", "what is ... ?"


@pytest.mark.parametrize(("model", "dimensions"), [("text-embedding-3-small", 256), ("gemini-embedding-001", 768)])
def test_it_shortens_vectors_to_unit_length(uncached_sdk, model, dimensions):
    result = uncached_sdk.embeddings.create(model=model, input="shorten me", dimensions=dimensions)
    vector = as_array(result.data[0].embedding)
    # Google does not rescale a shortened vector; the gateway does, as OpenAI does.
    np.testing.assert_allclose(vector, fake_vector("shorten me", dimensions, native=MODELS[model]), atol=1e-6)
    assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_it_sends_dimensions_to_gemini_as_output_dimensionality(uncached_sdk, fake_upstream):
    uncached_sdk.embeddings.create(model="gemini-embedding-001", input="one text", dimensions=768)
    last = fake_upstream.requests()["last"]["gemini"]
    assert last["path"].endswith("/models/gemini-embedding-001:embedContent")
    assert last["body"] == {"content": {"parts": [{"text": "one text"}]}, "outputDimensionality": 768}


def test_it_splits_gemini_batches_of_more_than_100_and_keeps_the_order(uncached_sdk, fake_upstream):
    texts = [f"text number {n} fake:tag=gemini-batches" for n in range(250)]
    result = uncached_sdk.embeddings.create(model="gemini-embedding-001", input=texts, dimensions=128)
    assert fake_upstream.tag_count("gemini-batches") == 3  # 100 + 100 + 50
    assert len(result.data) == 250
    for text, item in zip(texts, result.data):
        np.testing.assert_allclose(as_array(item.embedding), fake_vector(text, 128, native=3072), atol=1e-6)


def test_it_refuses_other_dimensions_for_the_local_model(uncached_sdk):
    with pytest.raises(openai.BadRequestError) as refused:
        uncached_sdk.embeddings.create(model="all-minilm-l6-v2", input="hello", dimensions=128)
    assert "384" in refused.value.body["message"] and refused.value.body["param"] == "dimensions"


def test_it_passes_token_arrays_to_openai_only(uncached_sdk):
    result = uncached_sdk.embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3], [4, 5]])
    assert len(result.data) == 2 and result.usage.prompt_tokens == 5
    with pytest.raises(openai.BadRequestError) as refused:
        uncached_sdk.embeddings.create(model="all-minilm-l6-v2", input=[1, 2, 3])
    assert "Token arrays" in refused.value.body["message"]


def test_it_serves_a_repeat_from_the_exact_cache_in_either_format(sdk, fake_upstream):
    texts = ["cache me fake:tag=embedding-cache", "and me"]
    first = sdk.embeddings.with_raw_response.create(model="text-embedding-3-small", input=texts, encoding_format="float")
    again = sdk.embeddings.with_raw_response.create(model="text-embedding-3-small", input=texts, encoding_format="base64")
    assert (first.headers["X-Cache"], again.headers["X-Cache"]) == ("MISS", "HIT-EXACT")
    assert fake_upstream.tag_count("embedding-cache") == 1
    for as_floats, as_base64 in zip(first.parse().data, again.parse().data):
        np.testing.assert_array_equal(np.frombuffer(base64.b64decode(as_base64.embedding), dtype="<f4"),
                                      as_array(as_floats.embedding))
    assert again.parse().usage.prompt_tokens == first.parse().usage.prompt_tokens


def test_it_lists_embedding_models_with_the_chat_models(sdk):
    listed = {model.id: model.owned_by for model in sdk.models.list()}
    assert listed["text-embedding-3-small"] == "openai" and listed["all-minilm-l6-v2"] == "local"
    assert "gpt-4o" in listed
    assert sdk.models.retrieve("gemini-embedding-001").owned_by == "google"


@pytest.mark.parametrize(("request_body", "param"), [
    ({"model": "text-embedding-3-small", "input": ""}, "input"),
    ({"model": "text-embedding-3-small", "input": []}, "input"),
    ({"model": "text-embedding-3-small", "input": ["x"] * 2049}, "input"),
    ({"model": "text-embedding-3-small", "input": "x", "encoding_format": "int8"}, "encoding_format"),
    ({"model": "text-embedding-3-small", "input": "x", "dimensions": 4096}, "dimensions"),
    ({"model": "gemini-embedding-001", "input": "x", "dimensions": 64}, "dimensions"),
    ({"model": "gpt-4o", "input": "x"}, "model"),
    ({"model": "no-such-model", "input": "x"}, "model"),
])
def test_it_refuses_bad_requests_in_the_contracts_shape(gateway, user_key, request_body, param):
    import httpx

    response = httpx.post(f"{gateway.url}/v1/embeddings", json=request_body, headers={"X-API-Key": user_key}, timeout=30)
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["param"] == param and body["error"]["type"] == "invalid_request_error"
    assert body["request_id"] == response.headers["X-Request-ID"]


def test_it_maps_upstream_errors(uncached_sdk):
    with pytest.raises(openai.InternalServerError) as failed:
        uncached_sdk.with_options(max_retries=0).embeddings.create(
            model="text-embedding-3-small", input="boom fake:status=500")
    assert failed.value.status_code == 502 and failed.value.body["code"] == "provider_error"

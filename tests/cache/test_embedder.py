"""The embedding model: 384-dim unit vectors from the bundled weights, the ONNX path giving
the vectors the PyTorch path (SentenceTransformer) gives, the int8 path within cosine 0.99
of them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from apps.cache import embedder

TEXTS = ["How do I reverse a list in Python?", "hi", "What is the capital of Peru, and why is it there? " * 20]


def test_it_gives_384_dim_unit_vectors():
    vectors = embedder.embed_sync(["How do I reverse a list in Python?", "What is the capital of Peru?"])
    assert len(vectors) == 2
    for vector in vectors:
        assert len(vector) == embedder.DIMENSIONS == 384
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, abs_tol=1e-4)


def test_it_ranks_a_paraphrase_above_an_unrelated_question():
    a, b, c = embedder.embed_sync(["How do I reverse a list in Python?", "how can i reverse a python list",
                                   "What is the best pizza dough recipe?"])
    cos = lambda x, y: sum(p * q for p, q in zip(x, y))  # noqa: E731
    assert cos(a, b) > 0.8 > cos(a, c)


def test_it_embeds_nothing_as_nothing():
    assert embedder.embed_sync([]) == []


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_it_gives_the_same_vector_alone_and_in_a_batch(backend):
    texts = ["first question", "a somewhat longer second question about databases"]
    batched = embedder.embed_sync(texts, backend)
    single = [embedder.embed_sync([text], backend)[0] for text in texts]
    assert np.allclose(batched, single, atol=1e-5)


def test_int8_vectors_move_little_with_the_batch_they_are_encoded_in():
    # Activations are quantised per call, over the whole batch: a text's vector depends a
    # little on its neighbours (measured over 400 texts: cosine >= 0.990, mean 0.995).
    texts = ["first question", "a somewhat longer second question about databases",
             "How do I convert Celsius to Fahrenheit in JavaScript without a library?"]
    batched = np.array(embedder.embed_sync(texts, "onnx-int8"))
    single = np.array([embedder.embed_sync([text], "onnx-int8")[0] for text in texts])
    assert (batched * single).sum(axis=1).min() > 0.98


def test_it_runs_int8_onnx_by_default_from_files_built_from_the_bundled_weights():
    assert embedder.default_backend() == "onnx-int8"
    embedder.warm_up()
    assert embedder.onnx_file().exists() and embedder.onnx_int8_file().exists()
    assert embedder.onnx_int8_file().stat().st_size < 0.8 * embedder.onnx_file().stat().st_size
    assert embedder.model_path().endswith("model")


def test_int8_vectors_are_within_cosine_0_99_of_sentence_transformers():
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(embedder.model_path(), device="cpu")
    texts = TEXTS + ["Celsius to Fahrenheit", "Fahrenheit to Celsius", "Is HTTP/2 faster than HTTP/3?"]
    theirs = reference.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    cosines = (np.array(embedder.embed_sync(texts, "onnx-int8")) * theirs).sum(axis=1)
    assert cosines[1] >= 0.985  # "hi": three tokens are the least robust to rounding
    assert np.delete(cosines, 1).min() >= 0.99


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_it_gives_exactly_what_sentence_transformers_encode_gives(backend):
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(embedder.model_path(), device="cpu")
    theirs = reference.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    ours = np.array(embedder.embed_sync(TEXTS, backend))
    assert ours.shape == theirs.shape == (3, 384)
    assert np.abs(ours - theirs).max() < 1e-4


def test_it_refuses_an_unknown_backend(monkeypatch):
    monkeypatch.setenv("GATEWAY_EMBEDDER_BACKEND", "tensorflow")
    with pytest.raises(ValueError, match="onnx, torch"):
        embedder.default_backend()

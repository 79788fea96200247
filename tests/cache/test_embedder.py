"""The embedder: 384-dim unit vectors from the bundled model, computed off the event
loop, concurrent callers batched into one encode call."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from apps.cache import embedder


class FakeModel:
    """Stands in for SentenceTransformer (the two steps embedder uses): records each
    batch it is given."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail

    def preprocess(self, texts):
        self.batches.append(list(texts))
        if self.fail:
            raise RuntimeError("model broke")
        return list(texts)

    def forward(self, texts):
        import torch

        vectors = torch.zeros((len(texts), embedder.DIMENSIONS))
        for row, text in enumerate(texts):
            vectors[row, len(text) % embedder.DIMENSIONS] = 1.0
        return {"sentence_embedding": vectors}


@pytest.fixture
def fake_model(monkeypatch):
    model = FakeModel()
    monkeypatch.setattr(embedder, "_model", model)
    return model


async def _concurrently(texts: list[str]) -> list[list[float]]:
    # Hold the encode lock while every caller queues up, so the test does not depend
    # on how fast the worker thread wakes up: a deterministic batching check.
    embedder._encode_lock.acquire()
    try:
        tasks = [asyncio.create_task(embedder.aembed(t)) for t in texts]
        for _ in range(3):
            await asyncio.sleep(0)  # let every task run up to its await
    finally:
        embedder._encode_lock.release()
    return await asyncio.gather(*tasks)


def test_concurrent_callers_are_batched_into_fewer_encode_calls(fake_model):
    texts = [f"question number {i}" for i in range(16)]
    calls_before = embedder.ENCODE_CALLS
    vectors = asyncio.run(_concurrently(texts))
    calls = embedder.ENCODE_CALLS - calls_before
    assert calls < len(texts)
    assert calls <= 2  # the first caller alone at most, then everyone who queued behind it
    assert sorted(t for batch in fake_model.batches for t in batch) == sorted(texts)
    for text, vector in zip(texts, vectors):  # each caller gets its own vector back
        assert vector.index(1.0) == len(text) % embedder.DIMENSIONS


def test_a_failing_encode_fails_its_callers_and_the_worker_survives(monkeypatch):
    monkeypatch.setattr(embedder, "_model", FakeModel(fail=True))
    with pytest.raises(RuntimeError, match="model broke"):
        asyncio.run(embedder.aembed("anything"))
    monkeypatch.setattr(embedder, "_model", FakeModel())
    assert len(asyncio.run(embedder.aembed("still working"))) == embedder.DIMENSIONS


def test_a_cancelled_caller_does_not_break_the_others(fake_model):
    async def main():
        embedder._encode_lock.acquire()
        try:
            doomed = asyncio.create_task(embedder.aembed("cancelled"))
            kept = asyncio.create_task(embedder.aembed("kept"))
            await asyncio.sleep(0)
            doomed.cancel()
        finally:
            embedder._encode_lock.release()
        return await kept

    assert len(asyncio.run(main())) == embedder.DIMENSIONS


def test_the_event_loop_is_not_blocked_while_encoding(fake_model):
    async def main():
        embedder._encode_lock.acquire()  # an encode "in progress"
        try:
            pending = asyncio.create_task(embedder.aembed("slow"))
            ticks = 0
            for _ in range(5):  # the loop keeps running other work meanwhile
                await asyncio.sleep(0)
                ticks += 1
            assert not pending.done()
        finally:
            embedder._encode_lock.release()
        await pending
        return ticks

    assert asyncio.run(main()) == 5


def test_embed_sync_of_nothing_is_nothing(fake_model):
    assert embedder.embed_sync([]) == []


@pytest.fixture(scope="module")
def real_model():
    if isinstance(embedder._model, FakeModel):  # the bundled model, never a fake
        embedder._model = None
    return embedder.get_model()


def test_the_real_model_gives_384_dim_unit_vectors(real_model):
    vectors = embedder.embed_sync(["How do I reverse a list in Python?", "What is the capital of Peru?"])
    assert len(vectors) == 2
    for vector in vectors:
        assert len(vector) == embedder.DIMENSIONS == 384
        assert math.isclose(math.fsum(x * x for x in vector), 1.0, abs_tol=1e-4)


def test_the_real_model_ranks_a_paraphrase_above_an_unrelated_question(real_model):
    a, b, c = embedder.embed_sync(["How do I reverse a list in Python?",
                                   "how can i reverse a python list",
                                   "What is the best pizza dough recipe?"])
    cos = lambda x, y: sum(p * q for p, q in zip(x, y))  # noqa: E731
    assert cos(a, b) > 0.8 > cos(a, c)


def test_batched_and_single_embeddings_agree(real_model):
    texts = ["first question", "a somewhat longer second question about databases"]
    async def both():
        return await asyncio.gather(*(embedder.aembed(t) for t in texts))

    batched = asyncio.run(both())
    single = [embedder.embed_sync([t])[0] for t in texts]
    for x, y in zip(batched, single):
        assert np.allclose(x, y, atol=1e-4)


def test_the_model_loads_from_the_wheel_offline_on_one_thread(real_model):
    import os

    import torch

    assert embedder.model_path().endswith("model")
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    assert torch.get_num_threads() == 1


def test_the_real_model_gives_exactly_what_sentence_transformers_encode_gives(real_model):
    texts = ["How do I reverse a list in Python?", "hi", "What is the capital of Peru, and why is it there? " * 20]
    ours = np.array(embedder.embed_sync(texts))
    theirs = real_model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    assert ours.shape == theirs.shape == (3, 384)
    assert np.abs(ours - theirs).max() < 1e-5

"""The semantic cache asks the machine's one embedding service for vectors, and never waits
long for it: while it warms up, when it is down or saturated, a lookup is skipped at once,
counted in gateway_semantic_skipped_total{reason}, and nothing is logged per request."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from apps.cache import embedder, embedding_service, semantic
from apps.cache.embedding_client import EmbedderClient, EmbedSkipped
from apps.cache.embedding_protocol import BACKGROUND, parse_address
from apps.cache.embedding_service import EmbeddingService
from apps.stats import metrics
from apps.cache.services import acache_lookup
from tests.cache.conftest import ask, chat_request, recall, remember, run
from tests.cache.served import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def skipped(reason: str) -> float:
    return metrics.child(metrics.SEMANTIC_SKIPPED, reason)._value.get()


class ServiceInThread:
    """An EmbeddingService on its own loop in a thread, with a model whose loading and
    encoding the test holds and releases."""

    def __init__(self, tmp_path, monkeypatch, **options) -> None:
        self.url = f"unix://{tmp_path / 'embedder.sock'}"
        self.may_load = threading.Event()
        self.may_encode = threading.Event()
        self.may_encode.set()
        self.batches: list[list[str]] = []  # the texts of every encode, in order
        real_embed = embedder.embed_sync

        def held_warm_up(backend=None):
            self.may_load.wait(30)
            real_embed(["warm up"], backend)

        def held_embed(texts, backend=None):
            self.may_encode.wait(30)
            self.batches.append(list(texts))
            return real_embed(texts, backend)

        monkeypatch.setattr(embedder, "warm_up", held_warm_up)
        monkeypatch.setattr(embedder, "embed_sync", held_embed)
        self.service = EmbeddingService(parse_address(self.url), **options)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.service.start(), self.loop)
        wait_until(lambda: self.service.server is not None)

    def stop(self) -> None:
        self.may_load.set()
        self.may_encode.set()
        asyncio.run_coroutine_threadsafe(self._aclose(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    async def _aclose(self) -> None:
        await self.service.aclose()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


@pytest.fixture
def held_service(tmp_path, monkeypatch, settings):
    # Batches limited by the callers' budgets only, not by the measured cost per text (which
    # depends on how busy the machine is).
    service = ServiceInThread(tmp_path, monkeypatch, max_batch_seconds=60.0)
    settings.GATEWAY_EMBEDDER_URL = service.url
    yield service
    service.stop()


def test_it_finds_a_paraphrase_through_the_shared_service(namespace):
    remember(ask("What is the capital of Peru?", temperature=0), namespace=namespace)
    lookups = metrics.SEMANTIC_LOOKUPS._value.get()
    assert recall(ask("what's the capital of Peru", temperature=0), namespace=namespace).kind == "semantic"
    assert metrics.SEMANTIC_LOOKUPS._value.get() == lookups + 1


def lookup_now(payload: dict, namespace: str):
    """A lookup as the completion path makes it (recall() first waits for the service)."""
    chat = chat_request(payload, namespace=namespace)
    return run(acache_lookup(chat.cache, completion_id=chat.completion_id))


def test_it_skips_lookups_while_the_service_warms_up_then_hits(namespace, held_service):
    before = skipped("warming")
    question = ask("What is the capital of Peru?", temperature=0)
    assert lookup_now(question, namespace) is None
    assert skipped("warming") == before + 1
    assert semantic.embedder_status() == "warming"
    held_service.may_load.set()
    assert semantic.wait_for_embedder(timeout=30)
    remember(question, namespace=namespace)
    assert recall(ask("what's the capital of Peru", temperature=0), namespace=namespace).kind == "semantic"


def test_it_skips_at_once_when_the_service_is_down(namespace, settings, tmp_path, caplog):
    settings.GATEWAY_EMBEDDER_URL = f"unix://{tmp_path / 'nobody-listens.sock'}"
    before = skipped("unavailable")
    with caplog.at_level(logging.WARNING, logger="gateway.cache"):
        for _ in range(3):
            assert lookup_now(ask("What is the capital of Peru?", temperature=0), namespace) is None
    assert skipped("unavailable") == before + 3
    assert len([r for r in caplog.records if "embedding service unavailable" in r.getMessage()]) == 1
    assert semantic.semantic_cache_state().startswith("disabled: embedding service unavailable")


def test_it_answers_saturated_rather_than_queue_what_it_cannot_do_in_time(held_service):
    held_service.may_load.set()
    assert semantic.wait_for_embedder(timeout=30)
    held_service.may_encode.clear()  # an encode that does not end: everything else queues

    async def burst() -> list[str]:
        client = EmbedderClient()
        first = asyncio.create_task(client.aembed("the one being encoded", budget=5.0))
        await asyncio.sleep(0.2)  # it is in the model now
        results = await asyncio.gather(*(client.aembed(f"question {i}", budget=0.025) for i in range(20)),
                                       return_exceptions=True)
        costs.append(held_service.service.cost_per_text)  # what the service admitted them by
        held_service.may_encode.set()
        await first
        await client.aclose()
        return [r.reason if isinstance(r, EmbedSkipped) else "ok" for r in results]

    costs: list[float] = []
    reasons = asyncio.run(burst())
    assert "ok" not in reasons
    assert set(reasons) <= {"saturated", "late", "timeout"}
    # Refused at once, not after their budget: all but the few that fit in 25 ms at the
    # service's cost per text.
    fit = int(0.025 / costs[0])
    assert reasons.count("saturated") >= 20 - fit


def test_it_batches_texts_from_concurrent_callers_and_encodes_a_repeated_text_once(held_service):
    held_service.may_load.set()
    assert semantic.wait_for_embedder(timeout=30)
    held_service.may_encode.clear()
    calls = embedder.ENCODE_CALLS

    async def concurrently() -> list[list[float]]:
        client = EmbedderClient()
        first = asyncio.create_task(client.aembed("held in the model", budget=10.0))
        await asyncio.sleep(0.2)
        texts = [f"question number {i}" for i in range(8)] + ["question number 0"]
        rest = [asyncio.create_task(client.aembed(text, budget=10.0)) for text in texts]
        await asyncio.sleep(0.2)  # all queued behind the held encode
        held_service.may_encode.set()
        vectors = await asyncio.gather(first, *rest)
        await client.aclose()
        return vectors

    vectors = asyncio.run(concurrently())
    assert embedder.ENCODE_CALLS - calls == 2  # the held one, then the other eight texts in one batch
    assert held_service.service.texts == 1 + 8
    assert vectors[1] == vectors[-1]
    assert all(len(vector) == embedder.DIMENSIONS for vector in vectors)


def test_background_texts_wait_for_idle_time_and_are_refused_when_their_queue_is_full(held_service):
    held_service.may_load.set()
    assert semantic.wait_for_embedder(timeout=30)
    held_service.may_encode.clear()

    async def mixed() -> tuple[list[str], list[str]]:
        client = EmbedderClient()
        first = asyncio.create_task(client.aembed("held in the model", budget=10.0))
        await asyncio.sleep(0.2)
        stores = [asyncio.create_task(client.aembed(f"store {i}", budget=10.0, kind=BACKGROUND))
                  for i in range(embedding_service.MAX_BACKGROUND + 3)]
        await asyncio.sleep(0.1)
        lookup = asyncio.create_task(client.aembed("a lookup that arrives after the stores", budget=10.0))
        await asyncio.sleep(0.1)
        held_service.may_encode.set()
        results = await asyncio.gather(first, lookup, *stores, return_exceptions=True)
        await client.aclose()
        return results

    order_before = list(held_service.batches)
    results = asyncio.run(mixed())
    reasons = [r.reason if isinstance(r, EmbedSkipped) else "ok" for r in results[2:]]
    assert reasons.count("saturated") == 3  # past MAX_BACKGROUND, refused at once
    assert reasons.count("ok") == embedding_service.MAX_BACKGROUND
    batches = held_service.batches[len(order_before):]
    # The lookup that came after 64 background texts was encoded right after the held batch.
    assert batches[0] == ["held in the model"]
    assert batches[1] == ["a lookup that arrives after the stores"]

"""A process that has not loaded the embedding model yet (about 5 s) does not make
requests wait for it: lookups skip the semantic cache until it is loaded in the background."""

import threading

import pytest

from apps.cache import semantic
from apps.cache.services import acache_lookup
from tests.cache.conftest import ask, chat_request, recall, remember, run
from tests.cache.served import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_skips_semantic_lookups_until_the_model_is_loaded(namespace, monkeypatch):
    remember(ask("What is the capital of Peru?", temperature=0), namespace=namespace)
    loaded = threading.Event()
    real_embed_sync = semantic.embed_sync

    def slow_first_load(texts):
        loaded.wait()
        return real_embed_sync(texts)

    monkeypatch.setattr(semantic, "_model_state", {"ready": False, "loading": False})
    monkeypatch.setattr(semantic, "embed_sync", slow_first_load)
    paraphrase = ask("what's the capital of Peru", temperature=0)
    assert run(acache_lookup(chat_request(paraphrase, namespace=namespace))) is None  # did not wait
    loaded.set()
    wait_until(lambda: semantic._model_state["ready"])
    assert recall(paraphrase, namespace=namespace).kind == "semantic"

"""A process that has not loaded the embedding model yet (about 5 s) does not make
requests wait for it: lookups skip the semantic cache until it is loaded in the background."""

import threading

import pytest

from apps.cache import embedder, semantic
from apps.cache.services import acache_lookup
from tests.cache.conftest import ask, chat_request, recall, remember, run
from gateway_site.runtime import Runtime, install, part
from tests.cache.served import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_skips_semantic_lookups_until_the_model_is_loaded(namespace, monkeypatch):
    remember(ask("What is the capital of Peru?", temperature=0), namespace=namespace)
    loaded = threading.Event()
    real_warm_up = embedder.warm_up

    def slow_first_load():
        loaded.wait()
        real_warm_up()

    install(Runtime())  # a process that has not loaded the model yet
    monkeypatch.setattr(embedder, "warm_up", slow_first_load)
    paraphrase = ask("what's the capital of Peru", temperature=0)
    chat = chat_request(paraphrase, namespace=namespace)
    assert run(acache_lookup(chat.cache, completion_id=chat.completion_id)) is None  # did not wait
    loaded.set()
    wait_until(lambda: part(semantic.SemanticState).model_ready)
    assert recall(paraphrase, namespace=namespace).kind == "semantic"

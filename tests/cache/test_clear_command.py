"""`manage.py clear_cache [--exact] [--semantic] [--namespace N]` empties what it says."""

import pytest
from django.core.management import call_command
from django.test import override_settings

from tests.cache.conftest import ask, recall, remember

pytestmark = pytest.mark.django_db(transaction=True)


def clear_cache(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("clear_cache", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def filled(disposable_redis, namespace, other_namespace):
    with override_settings(REDIS_URL=disposable_redis.url):
        for number in range(2):
            remember(ask(f"What is {number} times three?", temperature=0), namespace=namespace)
        remember(ask("What is four times three?", temperature=0), namespace=other_namespace)
        yield


def test_it_clears_only_the_exact_cache_of_one_namespace(filled, namespace, other_namespace):
    output = clear_cache("--exact", "--namespace", namespace)
    assert output.strip() == f"Cleared 2 exact and 0 semantic cache entries in namespace {namespace!r}."
    found = recall(ask("What is 0 times three?", temperature=0), namespace=namespace)
    assert found.kind == "semantic"  # the semantic entry is still there
    assert recall(ask("What is four times three?", temperature=0), namespace=other_namespace).kind == "exact"


def test_it_clears_both_caches_by_default(filled):
    assert clear_cache().strip() == "Cleared 3 exact and 3 semantic cache entries."
    assert clear_cache("--semantic").strip() == "Cleared 0 exact and 0 semantic cache entries."

"""On a database without pgvector the project still migrates and serves; the semantic
cache says it is disabled (in /health too) and the exact cache works as before."""

import importlib
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection

from apps.cache import semantic
from tests.cache.conftest import ask, recall, remember

pytestmark = pytest.mark.django_db(transaction=True)

migration = importlib.import_module("apps.cache.migrations.0001_initial")


def table_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [semantic.TABLE])
        return cursor.fetchone()[0] is not None


@pytest.fixture
def without_pgvector():
    call_command("migrate", "gateway_cache", "zero", verbosity=0)
    try:
        with mock.patch.object(migration, "vector_extension_ready", return_value=False):
            call_command("migrate", "gateway_cache", verbosity=0)
        semantic.forget_state()
        yield
    finally:
        call_command("migrate", "gateway_cache", "zero", verbosity=0)
        call_command("migrate", "gateway_cache", verbosity=0)
        semantic.forget_state()


def test_it_migrates_without_the_table_and_says_why(without_pgvector):
    assert not table_exists()
    assert semantic.semantic_cache_state().startswith("disabled: ")


def test_it_keeps_serving_with_the_exact_cache_only(redis_url, without_pgvector, namespace):
    remember(ask("What is DNS?", temperature=0), namespace=namespace)
    assert recall(ask("What is DNS?", temperature=0), namespace=namespace).kind == "exact"
    assert recall(ask("what's DNS", temperature=0), namespace=namespace) is None


def test_it_reports_the_state_in_health(client, key_for, without_pgvector):
    services = client.get("/health", HTTP_X_API_KEY=key_for()).json()["services"]
    assert services["semantic_cache"].startswith("disabled: ")


def test_it_creates_the_table_where_pgvector_is_available():
    assert table_exists()
    assert semantic.semantic_cache_state() == "enabled"

"""A PostgreSQL database without pgvector (DATABASE_URL pointing at it): the gateway migrates,
serves completions, and reports the semantic cache disabled, saying why."""

import os
import subprocess
import sys
import uuid

import httpx
import psycopg
import pytest
from django.db import connection

from tests.gateway_server import REPO_ROOT, GatewayServer

SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def plain_postgres_url(django_db_setup):
    """A fresh database where the gateway cannot have pgvector: on a PostgreSQL at
    127.0.0.1:5432 that lacks the extension, where there is one (CI's machine), else on the
    test's own server for a role that may not install it (pgvector is not a trusted
    extension, so only a superuser can), so the test runs on any machine."""
    try:
        admin = psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=2)
    except psycopg.OperationalError:
        admin = None
    if admin is not None:
        with admin:
            has_vector = admin.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
        if not has_vector:
            yield from database_on_server_without_pgvector()
            return
    yield from database_for_a_role_without_superuser()


def database_on_server_without_pgvector():
    name = f"pgw_novector_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{SERVER}/{name}"
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def database_for_a_role_without_superuser():
    own = connection.settings_dict
    server = {"user": own["USER"], "password": own["PASSWORD"], "host": own["HOST"], "port": own["PORT"] or 5432}
    name = role = f"pgw_novector_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'plain' NOSUPERUSER NOCREATEDB")
        admin.execute(f"CREATE DATABASE {name}")
    with psycopg.connect(dbname=name, autocommit=True, **server) as admin:
        admin.execute(f"GRANT USAGE, CREATE ON SCHEMA public TO {role}")  # tables, not extensions
    host = own["HOST"]
    where = f"@/{name}?host={host}" if host.startswith("/") else f"@{host}:{server['port']}/{name}"
    try:
        yield f"postgresql://{role}:plain{where}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
            admin.execute(f"DROP ROLE {role}")


def test_it_serves_with_the_semantic_cache_disabled(plain_postgres_url, fake_upstream):
    env = {**os.environ, "DATABASE_URL": plain_postgres_url}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO_ROOT, env=env, check=True)
    created = subprocess.run([sys.executable, "manage.py", "create_api_key", "plain", "--admin"], cwd=REPO_ROOT,
                             env=env, check=True, capture_output=True, text=True)
    key = created.stdout.strip().splitlines()[-1]
    with GatewayServer({"DATABASE_URL": plain_postgres_url, **fake_upstream.env()}) as gateway:
        headers = {"X-API-Key": key}
        health = httpx.get(f"{gateway.url}/health", headers=headers, timeout=30).json()
        assert health["services"]["database"] == "connected"
        assert health["services"]["semantic_cache"].startswith("disabled: ")
        body = {"model": "gpt-4o", "temperature": 0, "messages": [{"role": "user", "content": "What is DNS?"}]}
        assert httpx.post(f"{gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=30).status_code == 200

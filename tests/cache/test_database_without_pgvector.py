"""A real PostgreSQL without pgvector (DATABASE_URL pointing at it): the gateway migrates,
serves completions, and reports the semantic cache disabled, saying why."""

import os
import subprocess
import sys
import uuid

import httpx
import psycopg
import pytest

from tests.gateway_server import REPO_ROOT, GatewayServer

SERVER = "postgresql://postgres@127.0.0.1:5432"


@pytest.fixture
def plain_postgres_url():
    """A fresh database on a PostgreSQL server that has no vector extension."""
    try:
        admin = psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=2)
    except psycopg.OperationalError:
        pytest.skip("no PostgreSQL without pgvector on 127.0.0.1:5432 to test against")
    with admin:
        if admin.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone():
            pytest.skip("the PostgreSQL on 127.0.0.1:5432 has pgvector")
        name = f"pgw_novector_{uuid.uuid4().hex[:8]}"
        admin.execute(f"CREATE DATABASE {name}")
        try:
            yield f"{SERVER}/{name}"
        finally:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


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

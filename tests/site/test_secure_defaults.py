"""Secure defaults: no secret key written in the code, and `check --deploy` clean with the
settings docs/deployment.md recommends."""

import os
import stat
import subprocess
import sys

from gateway_site.secret_key import stored_secret_key
from tests.gateway_server import REPO_ROOT

# docs/deployment.md, "Settings for a real deployment" (placeholders for the secrets).
RECOMMENDED = {
    "DJANGO_SECRET_KEY": "x7Qp2vLk9TzR4mWcYb8NdJhF3sGa6UeK1oVi5XrPq0Zt-recommended",
    "GATEWAY_HTTPS": "1",
    "GATEWAY_HSTS_PRELOAD": "1",
    "ALLOWED_HOSTS": "gateway.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://gateway.example.com",
    "GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8",
    "REDIS_URL": "redis://redis.example.com:6379/0",
    "OPENAI_API_KEY": "sk-placeholder-openai-0000000000",
    "ANTHROPIC_API_KEY": "sk-ant-placeholder-000000000000",
    "GEMINI_API_KEY": "AIza-placeholder-00000000000000",
}


def manage(*arguments: str, env: dict[str, str], data_dir) -> subprocess.CompletedProcess:
    base = {name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "GATEWAY_"))}
    base.update(DATABASE_URL="postgresql://gateway@127.0.0.1:9/gateway", GATEWAY_DATA_DIR=str(data_dir))
    return subprocess.run([sys.executable, "manage.py", *arguments], cwd=REPO_ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=120)


def test_it_makes_a_random_secret_key_once_and_keeps_it_private(tmp_path):
    path = tmp_path / "var" / "secret_key"
    first = stored_secret_key(path)
    assert stored_secret_key(path) == first
    assert len(first) >= 50 and len(set(first)) >= 5
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stored_secret_key(tmp_path / "elsewhere") != first
    assert list(path.parent.iterdir()) == [path]  # no draft left behind


def test_it_gives_every_process_of_an_installation_the_same_key(tmp_path):
    code = "from gateway_site.secret_key import stored_secret_key; import sys; print(stored_secret_key(__import__('pathlib').Path(sys.argv[1])))"
    starts = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "secret_key")], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, text=True) for _ in range(4)]
    assert len({start.communicate(timeout=60)[0] for start in starts}) == 1


def test_it_refuses_to_start_in_a_container_without_a_secret_key(tmp_path):
    result = manage("check", env={"GATEWAY_CONTAINER": "1", "REDIS_URL": "none"}, data_dir=tmp_path)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_it_passes_check_deploy_with_the_recommended_settings(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=RECOMMENDED, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr


def test_it_reports_the_consoles_missing_https_settings(tmp_path):
    # The console's middleware is not in MIDDLEWARE; its checks must run all the same.
    plain_http = {name: value for name, value in RECOMMENDED.items() if not name.startswith("GATEWAY_HSTS")}
    plain_http["GATEWAY_HTTPS"] = "0"
    result = manage("check", "--deploy", env=plain_http, data_dir=tmp_path)
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr

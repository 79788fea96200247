"""A worker imports what serving needs, not what one command or one endpoint needs
(issue 13's worker memory bound): daphne's twisted/autobahn only under `manage.py
runserver`, numpy only when an embeddings response is built."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_AT_START = ("daphne", "twisted", "autobahn", "numpy")


def modules_after(code: str) -> set[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "gateway_site.settings"}
    script = f"import sys, django; django.setup(); {code}; print(' '.join(sys.modules))"
    output = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    return {name.split(".")[0] for name in output.split()}


def test_a_worker_starts_without_daphne_or_numpy():
    assert modules_after("import gateway_site.asgi").isdisjoint(NOT_AT_START)


def test_runserver_still_serves_through_daphne():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "gateway_site.settings"}
    usage = subprocess.run([sys.executable, "manage.py", "runserver", "--help"], cwd=ROOT, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert "--websocket_handshake_timeout" in usage  # daphne's runserver, not Django's

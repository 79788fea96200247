"""Django's SECRET_KEY when DJANGO_SECRET_KEY is not set: made once, kept under var/.

A constant written in settings.py would sign every forgetful installation's console
sessions and tokens with a key anyone can read. Instead the first process generates a
random key and stores it beside the embedded database (mode 0600); every later process,
and every worker started at the same moment, reads that same file. In a container
(GATEWAY_CONTAINER=1) nothing under var/ outlives the container and replicas would each
make their own, so there the key must come from the environment.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

KEY_BYTES = 48  # 64 URL-safe characters: well past check --deploy's 50 characters / 5 distinct


def secret_key(*, from_environment: str, stored_at: Path, in_container: bool) -> str:
    if from_environment:
        return from_environment
    if in_container:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. In a container every replica needs the same key from the "
            "environment (a Kubernetes Secret, a compose .env): see docs/deployment.md."
        )
    return stored_secret_key(stored_at)


def stored_secret_key(path: Path) -> str:
    """The key in `path`, written first if there is none. Safe when several processes start
    at once: the file appears whole (written aside, then linked into place) or not at all."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secrets.token_urlsafe(KEY_BYTES) + "\n")
    try:
        os.link(draft, path)  # fails if another process got there first: then theirs is the key
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text().strip()

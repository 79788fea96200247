"""The layers point one way (docs/architecture.md): gateway_site ← keys, cache, stats ←
completions ← embeddings. Read from the source, imports inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The wiring: the ASGI application and Django's root URLconf put the apps together.
WIRING = {"gateway_site/asgi.py", "gateway_site/urls.py"}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def sources(folder: str) -> list[Path]:
    return [path for path in (ROOT / folder).rglob("*.py") if "migrations" not in path.parts]


def test_it_keeps_gateway_site_free_of_app_imports():
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path) if name.split(".")[0] == "apps")
        for path in sources("gateway_site")
        if str(path.relative_to(ROOT)) not in WIRING
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_it_keeps_keys_cache_stats_and_responses_below_completions():
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path) if name.startswith("apps.completions"))
        for app in ("apps/keys", "apps/cache", "apps/stats", "apps/responses")
        for path in sources(app)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_it_keeps_every_other_app_below_embeddings():
    offenders = {
        str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path) if name.startswith("apps.embeddings"))
        for app in ("apps/keys", "apps/cache", "apps/stats", "apps/completions")
        for path in sources(app)
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_the_front_door_imports_only_the_servers_own_small_modules():
    """A leaf: errors, request ids, the log throttle and the runtime (and the database
    driver's error class, to answer 503 for it); no app."""
    imported = imported_modules(ROOT / "gateway_site/front_door.py")
    project = {name for name in imported if name.startswith(("apps", "gateway_site", "django"))}
    assert project <= {"gateway_site", "gateway_site.errors", "gateway_site.request_ids", "gateway_site.quiet_log", "django.db"}

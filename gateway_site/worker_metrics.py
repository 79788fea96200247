"""Prometheus multiprocess mode for `manage.py serve --workers N`, set up by the server itself.

Each worker process counts in its own memory by default, so /metrics answered with the
counts of whichever worker took the scrape (100 requests showed as 56, then 44). With
PROMETHEUS_MULTIPROC_DIR set before the workers start, prometheus_client writes every
worker's values to files in that directory and /metrics sums them (apps/stats/metrics.py).

`SharedMetricsDirectory` makes that directory fresh for each start (or empties the one the
operator named), exports it to the workers through the environment, and removes it on exit.
A worker that dies is replaced by the server; its counters stay (they were counted), and
its live gauges (`livemax`, ...) are dropped by `mark_process_dead`, so a dead worker's
open breaker does not show open forever.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

from prometheus_client import multiprocess

ENV_NAME = "PROMETHEUS_MULTIPROC_DIR"
REAP_INTERVAL = 5.0  # seconds between looks for dead workers' files
_PID_IN_NAME = re.compile(r"_(\d+)\.db$")  # counter_1234.db, gauge_livemax_1234.db, ...

logger = logging.getLogger("gateway.server")


class SharedMetricsDirectory:
    def __init__(self, path: str | None = None, reap_interval: float = REAP_INTERVAL) -> None:
        self.operator_chosen = bool(path)
        self.path = Path(path) if path else None
        self.reap_interval = reap_interval
        self._stopped = threading.Event()
        self._reaper: threading.Thread | None = None

    def __enter__(self) -> "SharedMetricsDirectory":
        if self.operator_chosen:
            self.path.mkdir(parents=True, exist_ok=True)
            for stale in self.path.glob("*.db"):  # a previous run's values would be summed in
                stale.unlink()
        else:
            self.path = Path(tempfile.mkdtemp(prefix="gateway-metrics-"))
        os.environ[ENV_NAME] = str(self.path)
        self._reaper = threading.Thread(target=self._reap_until_stopped, name="metrics-reaper", daemon=True)
        self._reaper.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopped.set()
        if self._reaper is not None:
            self._reaper.join(timeout=self.reap_interval + 1)
        if not self.operator_chosen:
            shutil.rmtree(self.path, ignore_errors=True)
            os.environ.pop(ENV_NAME, None)

    def reap_dead_workers(self) -> list[int]:
        """Drops the live gauges of every process that wrote here and is gone."""
        dead = sorted({pid for pid in self._writer_pids() if not _alive(pid)})
        for pid in dead:
            multiprocess.mark_process_dead(pid, str(self.path))
        return dead

    def _writer_pids(self) -> set[int]:
        return {int(match.group(1)) for name in os.listdir(self.path) if (match := _PID_IN_NAME.search(name))}

    def _reap_until_stopped(self) -> None:
        while not self._stopped.wait(self.reap_interval):
            try:
                self.reap_dead_workers()
            except OSError as exc:  # the directory went away under us: nothing left to tidy
                logger.warning("metrics directory %s: %s", self.path, exc)
                return


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive, and not ours to judge
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    # An exited worker not yet reaped by its parent still answers kill(pid, 0).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]

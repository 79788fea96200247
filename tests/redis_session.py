"""A pytest plugin (pytest.ini: `-p tests.redis_session`): with REDIS_URL unset, the
session starts an embedded Redis and sets REDIS_URL, so no test skips for want of one and
the gateways that tests start inherit it. REDIS_URL=none runs the suite without Redis.

It must run before pytest-django reads the settings, which happens before any conftest is
imported: hence a plugin hook, not a conftest fixture.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from gateway_site.embedded_redis import EmbeddedRedis, embedded_redis_wanted

_SESSION_REDIS = pytest.StashKey[EmbeddedRedis]()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    if not embedded_redis_wanted():
        return
    redis = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="gateway-test-redis-"))).start()
    os.environ["REDIS_URL"] = redis.url
    early_config.stash[_SESSION_REDIS] = redis


def pytest_report_header(config: pytest.Config) -> str:
    redis = config.stash.get(_SESSION_REDIS, None)
    return f"redis: embedded at {redis.url}" if redis else f"redis: {os.environ.get('REDIS_URL', '')!r} (REDIS_URL)"


def pytest_unconfigure(config: pytest.Config) -> None:
    redis = config.stash.get(_SESSION_REDIS, None)
    if redis is not None:
        # The in-process event listener (a daemon thread) lives on until exit: its "lost
        # Redis" warning would be noise after the last test.
        logging.getLogger("gateway_site.events").setLevel(logging.ERROR)
        redis.stop()
        shutil.rmtree(redis.data_dir, ignore_errors=True)
        os.environ.pop("REDIS_URL", None)

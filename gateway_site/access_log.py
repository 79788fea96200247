"""One JSON line per request at INFO on the `gateway.access` logger (GATEWAY_ACCESS_LOG=json).

The front door calls `json_access_log` from its `finally`, once the answer is sent or the
client left, with what it knows (request id, method, path, status, start time); the API
adds what only it knows (the key's prefix, the model, a cache hit) through the request's
`describe`. No header, body or raw key is ever written, and the line goes through the
redaction filter like every other (settings.LOGGING). Off by default: a line per request
costs a few µs and a lot of disk; metrics and usage records already count every request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

logger = logging.getLogger("gateway.access")

AccessLog = Callable[[str, str, str, int, float, Callable[[], dict[str, Any]] | None], None]


def json_access_log(
    request_id: str, method: str, path: str, status: int, started: float, describe: Callable[[], dict[str, Any]] | None
) -> None:
    if not logger.isEnabledFor(logging.INFO):
        return
    line = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "request_id": request_id,
        "method": method,
        "path": path,
        "status": status,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    if describe is not None:
        line.update(describe())
    logger.info(orjson.dumps(line).decode())

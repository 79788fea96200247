"""Logging a recurring problem once per interval, with a count, instead of once per request.

A dead dependency fails every request; a line per failure floods the log (hundreds of
thousands of lines a minute) and hides everything else. `QuietLog.warning(cause, ...)`
writes the first occurrence of a cause at once, then at most one line per interval
saying how many were suppressed since. A part of the process's runtime.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

DEFAULT_INTERVAL = 60.0  # seconds


@dataclass
class _Cause:
    logged_at: float
    suppressed: int = 0


class QuietLog:
    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.causes: dict[str, _Cause] = {}

    def log(self, logger: logging.Logger, level: int, cause: str, message: str, *args,
            interval: float = DEFAULT_INTERVAL, exc_info=None) -> bool:
        """Logs unless `cause` was logged less than `interval` ago; True if it logged."""
        now = self.clock()
        seen = self.causes.get(cause)
        if seen is not None and now - seen.logged_at < interval:
            seen.suppressed += 1
            return False
        if seen is not None and seen.suppressed:
            message += f" ({seen.suppressed} more like this in the last {now - seen.logged_at:.0f} s)"
        self.causes[cause] = _Cause(logged_at=now)
        logger.log(level, message, *args, exc_info=exc_info)
        return True

    def warning(self, logger: logging.Logger, cause: str, message: str, *args, **options) -> bool:
        return self.log(logger, logging.WARNING, cause, message, *args, **options)

"""A recurring problem is logged once per interval, with a count, never once per request."""

import logging

from gateway_site.quiet_log import QuietLog

logger = logging.getLogger("tests.quiet_log")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_it_logs_a_cause_once_per_interval_and_counts_the_rest(caplog):
    clock = Clock()
    quiet = QuietLog(clock=clock)
    with caplog.at_level(logging.WARNING, logger="tests.quiet_log"):
        logged = [quiet.warning(logger, "redis_down", "Redis is down") for _ in range(1000)]
        clock.now += 61
        quiet.warning(logger, "redis_down", "Redis is down")
    assert logged.count(True) == 1
    assert [record.getMessage() for record in caplog.records] == [
        "Redis is down", "Redis is down (999 more like this in the last 61 s)",
    ]


def test_it_keeps_distinct_causes_apart(caplog):
    quiet = QuietLog(clock=Clock())
    with caplog.at_level(logging.WARNING, logger="tests.quiet_log"):
        for _ in range(10):
            quiet.warning(logger, "a", "first cause")
            quiet.warning(logger, "b", "second cause")
    assert [record.getMessage() for record in caplog.records] == ["first cause", "second cause"]

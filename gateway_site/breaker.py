"""One circuit breaker state machine, for the upstream providers and for Redis.

closed -> open after `threshold` consecutive failures (or at once for a failure reported
with trip=True); open -> half-open once `cooldown` seconds have passed and someone asks;
half-open lets `probes` calls through (None: every call) and the first outcome decides:
a success, or a refusal (the dependency answered: it is alive), closes it; a failure
opens it for another cool-down; a probe that did not finish (cancelled, or a fault of
ours) is released, so the next call probes instead. A probe that reports nothing within
`probe_timeout` counts as lost, and another is let through: no outcome, however it is
missed, can leave a breaker open for ever.

State is per process on purpose: each process learns a dependency's health from its own
traffic within a few calls, and sharing it would put a round trip on every request for a
rare event. Not thread-safe by design: it lives on the event loop, and a race between two
threads costs at most one extra probe.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway_site import runtime

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

Clock = Callable[[], float]
Listener = Callable[[str, str], None]  # (breaker name, new state)


@dataclass(frozen=True)
class BreakerSettings:
    threshold: int = 5  # consecutive failures that open the breaker
    cooldown: float = 30.0  # seconds open before a probe is let through
    probe_timeout: float = 60.0  # a probe silent this long is lost: another may go
    probes: int | None = 1  # calls let through at once while half-open; None: all of them


class Breaker:
    def __init__(self, name: str, settings: BreakerSettings, *, clock: Clock = time.monotonic,
                 notify: Listener | None = None) -> None:
        self.name = name
        self.settings = settings
        self._clock = clock
        self._notify = notify
        self.reset()

    def reset(self) -> None:
        """Closed, with no memory of past failures (tests; no state-change callback)."""
        self.state = CLOSED
        self.failures = 0  # consecutive
        self.opened_at = 0.0
        self.last_failure_at = -math.inf  # never
        self._probes_out = 0
        self._probe_sent_at = 0.0

    def allow(self) -> bool:
        """May a call go now? A True while half-open makes the caller a probe: it must
        report its outcome (succeeded, refused, failed or released)."""
        if self.state == CLOSED:
            return True
        now = self._clock()
        if self.state == OPEN:
            if now - self.opened_at < self.settings.cooldown:
                return False
            self._probes_out = 0
            self._set(HALF_OPEN)
        limit = self.settings.probes
        if limit is None:
            return True
        if self._probes_out >= limit:
            if now - self._probe_sent_at < self.settings.probe_timeout:
                return False
            self._probes_out = 0  # the probes out there will never report: lost
        self._probes_out += 1
        self._probe_sent_at = now
        return True

    def succeeded(self) -> None:
        self.failures = 0
        if self.state != CLOSED:
            self._set(CLOSED)

    def refused(self) -> None:
        """It answered, but refused this request (a client error): proof it is alive."""
        self.succeeded()

    def failed(self, *, trip: bool = False) -> bool:
        """Records a failure; `trip` opens a closed breaker at once (say, a refused
        connection, where a timeout needs the threshold). True when this failure opened it."""
        self.last_failure_at = now = self._clock()
        self.failures += 1
        if self.state == OPEN:
            return False  # already open: the cool-down runs from the first failure
        if self.state == CLOSED and not trip and self.failures < self.settings.threshold:
            return False
        self.opened_at = now
        self._set(OPEN)
        return True

    def released(self) -> None:
        """The call ended without an outcome (cancelled, or a fault of ours): a probe's
        place goes back, without penalty, so the next call can probe."""
        if self.state == HALF_OPEN and self._probes_out:
            self._probes_out -= 1

    def _set(self, state: str) -> None:
        self.state = state
        if self._notify is not None:
            self._notify(self.name, state)


class Breakers:
    """Breakers by name, created on first use; `clock` is for tests. Listeners added with
    `on_state_change` hear every instance's changes (they are wiring, set once at start-up,
    while the breakers themselves belong to the process's runtime)."""

    _shared_listeners: list[Listener] = []

    def __init__(self, *, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._breakers: dict[str, Breaker] = {}
        self._listeners: list[Listener] = []

    def on_state_change(self, listener: Listener) -> None:
        """listener(name, state), state one of "closed", "open", "half_open"; for metrics."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    @classmethod
    def on_every_state_change(cls, listener: Listener) -> None:
        if listener not in cls._shared_listeners:
            cls._shared_listeners.append(listener)

    def get(self, name: str, settings: BreakerSettings) -> Breaker:
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = self._breakers[name] = Breaker(name, settings, clock=self.clock, notify=self._notify)
        elif breaker.settings is not settings:
            breaker.settings = settings  # a reloaded config applies to the running breaker
        return breaker

    def is_open(self, name: str) -> bool:
        """Open or probing: the dependency is not known to be healthy."""
        breaker = self._breakers.get(name)
        return breaker is not None and breaker.state != CLOSED

    def state(self, name: str) -> str:
        """"closed", "open" or "half_open"; closed for a name never used."""
        breaker = self._breakers.get(name)
        return breaker.state if breaker is not None else CLOSED

    def reset(self) -> None:
        self._breakers.clear()

    def _notify(self, name: str, state: str) -> None:
        for listener in (*self._shared_listeners, *self._listeners):
            listener(name, state)


class ProviderBreakers(Breakers):
    """The upstream providers' breakers, by provider name: a part of the process's runtime."""


def provider_breakers() -> Breakers:
    return runtime.part(ProviderBreakers)

"""A circuit breaker per provider.

After `breaker_threshold` consecutive failures the provider is skipped for
`breaker_cooldown` seconds (requests go straight to fallbacks); then one probe request is
let through: success closes the breaker, failure opens it for another cool-down.

State is per process on purpose: each process learns a provider's health from its own
traffic within a few requests, and asking Redis first would put a round trip on every
request for a rare event.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from apps.completions.providers.types import ProviderSettings


@dataclass
class _Breaker:
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False


_breakers: dict[str, _Breaker] = {}
_listeners: list = []


def on_state_change(callback) -> None:
    """callback(provider_name, state) with state "closed", "open" or "half_open"; for metrics."""
    _listeners.append(callback)


def _notify(name: str, state: str) -> None:
    for callback in _listeners:
        callback(name, state)


def breaker_allows(provider: ProviderSettings) -> bool:
    breaker = _breakers.get(provider.name)
    if breaker is None or breaker.opened_at is None:
        return True
    if time.monotonic() - breaker.opened_at < provider.breaker_cooldown or breaker.probing:
        return False
    breaker.probing = True  # exactly one probe after the cool-down
    _notify(provider.name, "half_open")
    return True


def breaker_record_success(provider: ProviderSettings) -> None:
    breaker = _breakers.get(provider.name)
    if breaker is None:
        return
    was_open = breaker.opened_at is not None
    _breakers.pop(provider.name, None)
    if was_open:
        _notify(provider.name, "closed")


def breaker_record_failure(provider: ProviderSettings) -> None:
    breaker = _breakers.setdefault(provider.name, _Breaker())
    breaker.failures += 1
    if breaker.probing or breaker.failures >= provider.breaker_threshold:
        breaker.opened_at = time.monotonic()
        breaker.probing = False
        _notify(provider.name, "open")


def breaker_is_open(name: str) -> bool:
    breaker = _breakers.get(name)
    return breaker is not None and breaker.opened_at is not None


def breaker_reset() -> None:
    _breakers.clear()

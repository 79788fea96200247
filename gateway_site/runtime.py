"""What one gateway process holds while it runs, in one object instead of module globals.

A `Runtime` owns the process's parts: connection pools (upstream HTTP, Redis), circuit
breakers, the key cache, the in-process rate-limit windows, the embedder's state. Each
part is a plain object of its own module's class, made on first use by `part(Class)`;
this module knows none of them (it imports no app). The ASGI lifespan start-up installs
a fresh runtime and its shutdown closes it (every part with an `aclose()` or `close()`);
tests get a fresh one per test from the `runtime` fixture, so nothing leaks between them
and no test reaches into a module's private names.

Parts bound to an event loop (connections) remember their loop and open anew on
another one, since a connection cannot move between loops.
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import TypeVar

logger = logging.getLogger(__name__)

Part = TypeVar("Part")


class Runtime:
    def __init__(self) -> None:
        self._parts: dict[type, object] = {}
        self.started = time.monotonic()  # the worker's start (the ASGI lifespan installs a fresh one)

    def part(self, kind: type[Part]) -> Part:
        """This process's instance of `kind`, made with `kind()` on first use."""
        part = self._parts.get(kind)
        if part is None:
            part = self._parts[kind] = kind()
        return part  # type: ignore[return-value]

    async def aclose(self) -> None:
        parts, self._parts = list(self._parts.values()), {}
        for part in parts:
            close = getattr(part, "aclose", None) or getattr(part, "close", None)
            if close is None:
                continue
            try:
                result = close()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # noqa: BLE001 - closing the rest matters more
                logger.exception("closing %s failed", type(part).__name__)


_current = Runtime()


def runtime() -> Runtime:
    return _current


def install(new: Runtime) -> Runtime:
    """Makes `new` this process's runtime; returns the one it replaces."""
    global _current
    previous, _current = _current, new
    return previous


def part(kind: type[Part]) -> Part:
    """runtime().part(kind), in one call for the request path."""
    return _current.part(kind)

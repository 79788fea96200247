"""Fault-injection directives read from the last user message, e.g. "hi fake:status=503".

Directives travel inside each request, so concurrent tests can share one fake upstream
without configuring shared state. See README.md for the full list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_DIRECTIVE = re.compile(r"fake:([a-z_]+)(?:=(\S+))?")


class DirectiveError(ValueError):
    """An unknown directive or a bad value: the fake answers 400 so typos fail loudly."""


@dataclass(slots=True)
class Directives:
    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    hang: bool = False
    reset: bool = False
    badjson: bool = False
    echo_auth: bool = False
    cut: int | None = None
    stream_error: int | None = None
    flaky: int = 0
    flaky_tag: str | None = None
    flaky_status: int = 503
    slow_stream: float = 0.0
    tags: list[str] = field(default_factory=list)
    words: int | None = None
    tool: str | None = None  # "" for fake:tool, "text" for fake:tool=text, "twice" for fake:tool=twice


# Shared, never mutated: the fast path for text without "fake:".
NONE = Directives()

# How many stream events go out before fake:stream_error when no count is given.
DEFAULT_STREAM_ERROR_AFTER = 3


def parse_directives(text: str) -> Directives:
    if "fake:" not in text:
        return NONE
    found = Directives()
    for name, value in _DIRECTIVE.findall(text):
        setter = _SETTERS.get(name)
        if setter is None:
            raise DirectiveError(f"unknown fake directive fake:{name}")
        try:
            setter(found, value)
        except (ValueError, TypeError) as exc:
            raise DirectiveError(f"bad value for fake:{name}: {value!r} ({exc})") from None
    return found


def _int(value: str, minimum: int = 0) -> int:
    number = int(value)
    if number < minimum:
        raise ValueError(f"must be >= {minimum}")
    return number


def _float(value: str) -> float:
    number = float(value)
    if not 0 <= number < 86400:
        raise ValueError("out of range")
    return number


def _status(value: str) -> int:
    number = int(value)
    if not 100 <= number <= 599:
        raise ValueError("not an HTTP status")
    return number


def _flag(value: str) -> bool:
    if value:
        raise ValueError("takes no value")
    return True


def _set_flaky(found: Directives, value: str) -> None:
    count, sep, tag = value.partition(":")
    if not sep or not tag:
        raise ValueError("expected K:TAG")
    found.flaky, found.flaky_tag = _int(count), tag
    if tag not in found.tags:
        found.tags.append(tag)


def _set_tag(found: Directives, value: str) -> None:
    if not value:
        raise ValueError("expected a tag")
    if value not in found.tags:
        found.tags.append(value)


def _set_tool(found: Directives, value: str) -> None:
    if value not in ("", "text", "twice"):
        raise ValueError("expected fake:tool, fake:tool=text or fake:tool=twice")
    found.tool = value


def _set_stream_error(found: Directives, value: str) -> None:
    found.stream_error = _int(value) if value else DEFAULT_STREAM_ERROR_AFTER


_SETTERS = {
    "status": lambda d, v: setattr(d, "status", _status(v)),
    "retry_after": lambda d, v: setattr(d, "retry_after", str(_float(v)).removesuffix(".0")),
    "delay": lambda d, v: setattr(d, "delay", _float(v)),
    "hang": lambda d, v: setattr(d, "hang", _flag(v)),
    "reset": lambda d, v: setattr(d, "reset", _flag(v)),
    "badjson": lambda d, v: setattr(d, "badjson", _flag(v)),
    "echo_auth": lambda d, v: setattr(d, "echo_auth", _flag(v)),
    "cut": lambda d, v: setattr(d, "cut", _int(v)),
    "stream_error": _set_stream_error,
    "flaky": _set_flaky,
    "flaky_status": lambda d, v: setattr(d, "flaky_status", _status(v)),
    "slow_stream": lambda d, v: setattr(d, "slow_stream", _float(v)),
    "tag": _set_tag,
    "words": lambda d, v: setattr(d, "words", _int(v, 1)),
    "tool": _set_tool,
}

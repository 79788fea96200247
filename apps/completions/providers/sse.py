"""Server-sent events: an incremental parser for upstream streams (ours are written by
gateway_site/sse.py).

Parsing follows the WHATWG event-stream rules the providers rely on: an event ends at a
blank line, `data:` lines are joined with "\\n", `event:` names the event, lines starting
with ":" are comments, and a line may end in LF, CRLF or a lone CR.
"""

from __future__ import annotations

from .types import SseEvent


class SseParser:
    """Turns arbitrarily split bytes into complete `SseEvent`s."""

    def __init__(self) -> None:
        self._pending = b""  # the start of a line whose end has not arrived yet
        self._skip_lf = False  # the previous chunk ended in CR, so a leading LF belongs to it
        self._data: list[str] = []
        self._event: str | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        if not chunk:
            return []
        if self._skip_lf and chunk[:1] == b"\n":
            chunk = chunk[1:]
        buffer = self._pending + chunk
        self._skip_lf = buffer.endswith(b"\r")
        lines = buffer.splitlines(keepends=True)
        self._pending = b""
        if lines and not lines[-1].endswith((b"\n", b"\r")):
            self._pending = lines.pop()
        events = []
        for line in lines:
            event = self._process(line.rstrip(b"\r\n"))
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[SseEvent]:
        """The event left over when the connection closed without a final blank line."""
        events = []
        if self._pending:
            self._process(self._pending)
            self._pending = b""
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _process(self, line: bytes) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line[:1] == b":":
            return None
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        return None  # `id:` and `retry:` mean nothing to a gateway reading one response

    def _dispatch(self) -> SseEvent | None:
        if not self._data:
            self._event = None
            return None
        event = SseEvent(data="\n".join(self._data), event=self._event)
        self._data = []
        self._event = None
        return event


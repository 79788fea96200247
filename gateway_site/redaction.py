"""Keeping provider secrets out of everything that leaves the server.

An upstream (or a proxy in front of it) may echo the request's credentials in an error
message; a library's exception text may carry a URL or a header. Every message that
reaches a client, a log line or a stored record passes `redact()` first: the configured
provider keys are replaced wherever they appear, and so is anything shaped like a
credential (a bearer token, an OpenAI / Anthropic `sk-` key, a Google `AIza` key), in case
a secret reached the text in a form the configuration does not hold.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8  # shorter "secrets" (test placeholders) would redact ordinary words
_CREDENTIAL_SHAPES = re.compile(
    r"(?i)(?<=bearer )[^\s,;\"']{8,}"
    r"|\bsk-[A-Za-z0-9_\-]{16,}"
    r"|\bAIza[0-9A-Za-z_\-]{20,}"
    r"|(?<=x-api-key: )[^\s,;\"']{8,}"
    r"|(?<=x-goog-api-key: )[^\s,;\"']{8,}"
    r"|(?<=[?&]key=)[^\s&\"']{8,}"
)

# Set by the configuration module whenever a configuration is loaded: the secrets it holds.
_secrets: Callable[[], Iterable[str]] = tuple


def use_secrets(source: Callable[[], Iterable[str]]) -> None:
    global _secrets
    _secrets = source


def redact(text: str) -> str:
    for secret in _secrets():
        if len(secret) >= MIN_SECRET_LENGTH and secret in text:
            text = text.replace(secret, REDACTED)
    return _CREDENTIAL_SHAPES.sub(REDACTED, text)


def shorten(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RedactingFilter(logging.Filter):
    """On the log handlers (settings.LOGGING): no secret reaches a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if redact(text) != text:
                record.exc_text, record.exc_info = redact(text), None
        return True

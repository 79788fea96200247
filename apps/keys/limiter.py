"""Per-key rate limits (issue 5 replaces this with the shared Redis limiter)."""

from __future__ import annotations

from apps.keys.registry import KeyInfo


async def arate_limit_check(key: KeyInfo) -> dict[str, str]:
    """Raises RateLimitExceeded when over the limit; returns the rate-limit headers."""
    return {}

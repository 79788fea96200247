"""Admission: everything decided about a request before any work is done on it, in one call.

`admit()` authenticates the key, reads and checks the body (when the endpoint has one),
plans the caches, and counts the request against the key's limits. The exact cache's
Redis GET is sent just before the limiter's check, so both leave in one write and share
one round trip. From the moment the key is known, the request has an `Outcome` that the
front door records once, whatever happens next (a refused or invalid request included).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from apps.cache.services import acache_prefetch
from apps.completions.outcome import Outcome
from apps.completions.validation import ChatRequest
from apps.keys.authentication import aauthenticate
from apps.keys.limiter import arate_limit_check, arate_limit_peek
from apps.keys.registry import KeyInfo
from gateway_site.errors import GatewayError
from gateway_site.front_door import ApiRequest


@dataclass
class Admission:
    key: KeyInfo
    outcome: Outcome | None  # None for requests that are not counted nor recorded
    chat: ChatRequest | None = None  # the parsed body, for an endpoint that has one


async def admit(
    request: ApiRequest, *, parse: Callable[[KeyInfo], ChatRequest] | None = None, count: bool = True
) -> Admission:
    """Authenticates (raising InvalidApiKey); then, with `count`, records the request's
    outcome from here on, reads the body with `parse(key)` and counts one request against
    the key's limits (raising RateLimitExceeded). A bad body raises its GatewayError, but
    only after it was counted too: the 429 comes first. Without `count` the limits' state
    is only reported. Either way the response gets the rate-limit headers."""
    key = await aauthenticate(request.headers)
    if not count:
        request.response_headers.update(await arate_limit_peek(key))
        request.describe = lambda: {"key_prefix": key.prefix}
        return Admission(key, None)
    outcome = Outcome(request_id=request.request_id, key=key, started=request.started)
    request.on_finish, request.describe = outcome.finish, outcome.log_fields
    chat = None
    if parse is not None:
        try:
            chat = parse(key)
        except GatewayError:
            request.response_headers.update(await arate_limit_check(key))
            raise
        outcome.route, outcome.stream, outcome.payload = chat.route, chat.stream, chat.payload
        await acache_prefetch(chat.cache)  # sent, not awaited: it leaves with the check below
    request.response_headers.update(await arate_limit_check(key))
    return Admission(key, outcome, chat)

"""Admission: everything decided about a request before any work is done on it, in one call.

`admit()` authenticates the key, reads and checks the body (when the endpoint has one),
plans the caches, and counts the request against the key's limits and budgets. The exact
cache's Redis GET and the budget check (keys with a budget only) are sent just before the
limiter's check, so all leave in one write and share one round trip. From the moment the key is known, the request has an `Outcome` that the
front door records once, whatever happens next (a refused or invalid request included).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from apps.cache.policy import CachePlan
from apps.cache.services import acache_prefetch
from apps.completions.outcome import Outcome, estimated_prompt_cost
from apps.keys.authentication import aauthenticate
from apps.keys.budgets import PendingCheck, abudget_begin, abudget_check, abudget_finish
from apps.keys.limiter import arate_limit_check, arate_limit_peek
from apps.keys.registry import KeyInfo
from gateway_site import tracing
from gateway_site.errors import GatewayError
from gateway_site.front_door import ApiRequest


class ParsedRequest(Protocol):
    """What admission reads of a parsed body: a ChatRequest (validation.py), an
    EmbeddingRequest (apps/embeddings/validation.py)."""

    route: Any  # the model asked for: a ModelRoute or an EmbeddingRoute
    stream: bool
    payload: dict[str, Any]
    cache: CachePlan


@dataclass
class Admission:
    key: KeyInfo
    outcome: Outcome | None  # None for requests that are not counted nor recorded
    chat: Any = None  # the parsed body (what `parse` returned), for an endpoint that has one


async def admit(
    request: ApiRequest, *, parse: Callable[[KeyInfo], ParsedRequest] | None = None, count: bool = True
) -> Admission:
    """Authenticates (raising InvalidApiKey); then, with `count`, records the request's
    outcome from here on, reads the body with `parse(key)` and counts one request against
    the key's limits (raising RateLimitExceeded) and, with a parsed body, reserves its cost
    on the key's budgets (raising BudgetExceeded). A bad body raises its GatewayError, but
    only after it was counted too: the 429 comes first. Without `count` the limits' state
    is only reported. Either way the response gets the rate-limit (and budget) headers."""
    if tracing.tracer is None:
        return await _admit(request, parse, count)
    with tracing.span("gateway.admission") as span:
        try:
            return await _admit(request, parse, count)
        except GatewayError as error:
            tracing.failed(span, error.code)
            raise


async def _admit(request: ApiRequest, parse: Callable[[KeyInfo], ParsedRequest] | None, count: bool) -> Admission:
    key = await aauthenticate(request.headers)
    if not count:
        request.response_headers.update(await arate_limit_peek(key))
        if key.budgets:
            request.response_headers.update((await abudget_check(key, model="", reserve=False))[1])
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
    budget = None
    if key.budgets and chat is not None:
        budget = await abudget_begin(key, model=chat.route.name, estimate_usd=estimated_prompt_cost(chat.route, chat.payload))
    try:
        request.response_headers.update(await arate_limit_check(key))
    finally:
        if budget is not None:  # read even when the limiter refused: its reservation is returned
            await _areserve(budget, outcome, request)
    return Admission(key, outcome, chat)


async def _areserve(budget: PendingCheck, outcome: Outcome, request: ApiRequest) -> None:
    # A spent budget outranks a rate limit: its 429 says not to retry.
    outcome.spend, headers = await abudget_finish(budget)
    request.response_headers.update(headers)

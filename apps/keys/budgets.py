"""Spend budgets in USD, per key and per team, shared by every gateway process.

Counting. Spend is an integer number of cost units (1e-8 USD, the usage records' own
precision, so a counter holds exactly the sum of its records: no float drift). Each
budget of a request's key (the key's own, its team's) has one Redis counter per period:
    pgw:spend:{spend}:key:<first 16 hex of the key's SHA-256>:<period>   STRING
    pgw:spend:{spend}:team:<team id>-<its creation, µs since 1970>:<period>  STRING
    pgw:spend:{spend}:estimates    HASH  model -> cost units of its last answered request
with <period> "2026-11-29" (day, UTC), "2026-11" (month, UTC) or "all" (lifetime). A
period's counter expires a day after the period ends. One hash tag for all of them: one
script touches a key's and its team's counters, which Redis Cluster wants on one slot.

Exactness. Admission runs one Lua script (atomic across processes): it refuses the request
when a counter has reached its limit, else *reserves* an estimate on every counter: the
real cost of the last answered request for that model, gateway-wide (for a model never
answered yet, the prompt's own estimated cost). When the answer is in, `record_spend` adds
real − reserved. So one request may overshoot its budget by its own cost, none after it;
concurrent requests are counted as they are admitted, not when they end, so a budget of
N requests' cost admits N however they are spread over processes (exact when requests
cost the same; otherwise off by the estimate's error on the requests in flight at the
limit). A refused request, an error and a cache hit cost 0: their reservation is returned.

Survival. Redis may hold no data across a restart. A counter that is absent is seeded
once from the usage records of its period (one indexed query), with SET NX so processes
seeding at once agree; `record_spend` only adds to counters that exist, so a seed is never
pre-empted by a partial sum. `manage.py reconcile_spend` drops the counters: the next
request of each key reseeds them from the records. (Records still in a process's write
buffer, under a second's worth, are not in a seed.)

Without REDIS_URL the same algorithm runs in process memory (exact for one process).
Redis unavailable: rate_limits.fail_open decides, as for the rate limits.
Keys without a budget cost nothing here: no Redis command, no allocation.
"""

from __future__ import annotations

import asyncio
import calendar
import datetime as dt
import logging
import threading
from dataclasses import dataclass
from decimal import Decimal

import redis
from asgiref.sync import sync_to_async
from django.db import DatabaseError
from redis.exceptions import NoScriptError

from apps.keys.registry import Budget, KeyInfo
from apps.stats import metrics
from gateway_site import runtime
from gateway_site.errors import BudgetExceeded, ServiceUnavailable
from gateway_site.fast_redis import LuaScript, get_fast_redis
from gateway_site.gateway_config import get_config
from gateway_site.quiet_log import QuietLog
from gateway_site.redis_client import get_sync_redis, redis_breaker, redis_call_failed, redis_configured

logger = logging.getLogger(__name__)

COST_UNITS_PER_USD = 10**8
PREFIX = "pgw:spend:{spend}:"
ESTIMATES = PREFIX + "estimates"
GRACE_SECONDS = 86_400  # a period's counter outlives it by a day: late answers still land
WARN_EVERY = 60.0

ADMITTED, EXHAUSTED, UNSEEDED = 0, 1, -1

# KEYS: estimates, then one counter per budget. ARGV: model, fallback estimate, reserve (1)
# or only look (0), then each counter's limit. Reply: verdict, the budget concerned (1-based;
# 0 when admitted), the reservation, then each counter's spend.
CHECK_LUA = """
local spent = {}
for i = 2, #KEYS do
  local value = redis.call('GET', KEYS[i])
  if not value then return {-1, i - 1, 0} end
  spent[i - 1] = tonumber(value)
end
for i = 1, #spent do
  if spent[i] >= tonumber(ARGV[3 + i]) then return {1, i, 0, unpack(spent)} end
end
local reserved = 0
if ARGV[3] == '1' then
  reserved = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or ARGV[2])
  if reserved > 0 then
    for i = 1, #spent do spent[i] = redis.call('INCRBY', KEYS[i + 1], reserved) end
  end
end
return {0, 0, reserved, unpack(spent)}
"""

# KEYS: estimates, then the counters. ARGV: model, real cost (learned when > 0), real − reserved.
RECORD_LUA = """
if tonumber(ARGV[2]) > 0 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
if ARGV[3] ~= '0' then
  for i = 2, #KEYS do
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[3]) end
  end
end
return 0
"""


_CHECK = LuaScript(CHECK_LUA)
_RECORD = LuaScript(RECORD_LUA)


@dataclass(frozen=True)
class Period:
    label: str  # part of the counter's name
    start: dt.datetime | None  # None: lifetime
    end: dt.datetime | None

    def seconds_left(self, now: dt.datetime) -> int | None:
        return None if self.end is None else max(1, int((self.end - now).total_seconds() + 0.999))


@dataclass
class SpendHold:
    """What admission reserved for one request; `record_spend` settles it."""

    counters: tuple[str, ...]
    model: str
    reserved: int


@dataclass(frozen=True)
class _Check:
    budgets: tuple[Budget, ...]
    periods: tuple[Period, ...]
    counters: tuple[str, ...]
    model: str
    args: tuple
    now: dt.datetime


class PendingCheck:
    """A budget check sent but not yet read (it shares a Redis round trip with the limiter)."""

    def __init__(self, check: _Check, reply: asyncio.Future | None, reserve: bool) -> None:
        self.check, self.reply, self.reserve = check, reply, reserve


# --- public API -------------------------------------------------------------------


def period_of(period: str, now: dt.datetime) -> Period:
    now = now.astimezone(dt.timezone.utc)
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return Period(start.strftime("%Y-%m-%d"), start, start + dt.timedelta(days=1))
    if period == "month":
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        days = calendar.monthrange(start.year, start.month)[1]
        return Period(start.strftime("%Y-%m"), start, start + dt.timedelta(days=days))
    return Period("all", None, None)


def counter_name(budget: Budget, period: Period) -> str:
    return f"{PREFIX}{budget.scope}:{budget.counter_id}:{period.label}"


def units(usd: Decimal | float) -> int:
    return round(Decimal(str(usd)) * COST_UNITS_PER_USD)


async def abudget_begin(
    key: KeyInfo, *, model: str, estimate_usd: Decimal = Decimal(0), reserve: bool = True,
    now: dt.datetime | None = None,
) -> PendingCheck:
    """Sends the check (reserving the request's estimated cost with `reserve`) without
    waiting for the reply; `abudget_finish` reads it. Call only for a key with budgets."""
    now = now or dt.datetime.now(dt.timezone.utc)
    periods = tuple(period_of(budget.period, now) for budget in key.budgets)
    counters = tuple(counter_name(budget, period) for budget, period in zip(key.budgets, periods))
    limits = tuple(units(budget.limit_usd) for budget in key.budgets)
    check = _Check(key.budgets, periods, counters, model, (model, units(estimate_usd), int(reserve), *limits), now)
    reply = None
    if redis_configured() and redis_breaker().allow():
        try:
            client = await get_fast_redis()
        except (redis.RedisError, OSError) as exc:
            _redis_failed(exc)
        else:
            reply = client.submit("EVALSHA", _CHECK.sha, 1 + len(counters), ESTIMATES, *counters, *check.args)
            reply.add_done_callback(_retrieve)  # read later, or never if the request is refused first
    return PendingCheck(check, reply, reserve)


async def abudget_finish(pending: PendingCheck) -> tuple[SpendHold | None, dict[str, str]]:
    """The check's verdict: the reservation and the budget headers, or BudgetExceeded
    (ServiceUnavailable when Redis is down and the config fails closed)."""
    check = pending.check
    raw = await _areply(pending)
    if raw is None:
        return None, _unavailable(check)
    verdict, which, reserved, *spent = (int(value) for value in raw)
    headers = budget_headers(check, spent)
    if verdict == EXHAUSTED:
        _refuse(check, which - 1, headers)
    hold = SpendHold(check.counters, check.model, reserved) if pending.reserve else None
    return hold, headers


async def abudget_check(key: KeyInfo, **options) -> tuple[SpendHold | None, dict[str, str]]:
    return await abudget_finish(await abudget_begin(key, **options))


def record_spend(hold: SpendHold, cost_usd: Decimal, *, learn: bool) -> None:
    """Settles a request's reservation with its real cost (0 for a refusal, an error, a cache
    hit); with `learn`, the cost becomes the model's estimate. Never blocks nor raises."""
    real = units(cost_usd)
    args = (hold.model, real if learn else 0, real - hold.reserved)
    if args[1] == 0 and args[2] == 0:
        return
    if not redis_configured():
        runtime.part(LocalSpend).record(hold.counters, *args)
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _record_sync(hold.counters, args)
        return
    task = loop.create_task(_arecord(hold.counters, args))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def spend_forget() -> int:
    """Drops every spend counter (estimates kept): each is reseeded from the usage records
    on its next use. Returns how many were dropped."""
    if not redis_configured():
        return runtime.part(LocalSpend).forget()
    client = get_sync_redis()
    names = [name for name in client.scan_iter(match=PREFIX.replace("{", "\\{").replace("}", "\\}") + "*", count=1000)
             if name.decode() != ESTIMATES]
    for start in range(0, len(names), 500):
        client.delete(*names[start:start + 500])
    return len(names)


# --- headers and refusals ---------------------------------------------------------


def budget_headers(check: _Check, spent: list[int]) -> dict[str, str]:
    """The budget closest to its limit speaks for all (a key's and its team's)."""
    left = [units(budget.limit_usd) - used for budget, used in zip(check.budgets, spent)]
    index = min(range(len(left)), key=left.__getitem__)
    budget, period = check.budgets[index], check.periods[index]
    seconds = period.seconds_left(check.now)
    headers = {
        "X-Budget-Limit-USD": usd_text(units(budget.limit_usd)),
        "X-Budget-Remaining-USD": usd_text(max(0, left[index])),
        "X-Budget-Reset": "never" if seconds is None else str(seconds),
    }
    if budget.soft_alert_fraction is not None and spent[index] >= units(budget.limit_usd) * budget.soft_alert_fraction:
        headers["X-Budget-Alert"] = "soft-limit-reached"
    return headers


def usd_text(amount_units: int) -> str:
    """Dollars with cents, and more digits only when they say something: "5.00", "0.0001175"."""
    whole, fraction = f"{Decimal(amount_units) / COST_UNITS_PER_USD:.8f}".split(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def _refuse(check: _Check, index: int, headers: dict[str, str]) -> None:
    budget, period = check.budgets[index], check.periods[index]
    metrics.child(metrics.BUDGET_REJECTIONS, budget.scope).inc()
    per = f" per {budget.period}" if budget.period else ""
    if period.end is None:
        when, extra = "it does not reset (a lifetime budget): raise it to continue", {}
    else:
        when = f"it resets at {period.end.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        extra = {"Retry-After": str(period.seconds_left(check.now))}
    message = (f"Budget exceeded: the {budget.scope} '{budget.name}' has spent its budget of "
               f"${usd_text(units(budget.limit_usd))}{per}; {when}")
    # x-should-retry: the OpenAI SDKs retry a 429 twice otherwise, for nothing.
    raise BudgetExceeded(message, headers={**headers, **extra, "x-should-retry": "false"})


def _unavailable(check: _Check) -> dict[str, str]:
    budget = check.budgets[0]
    headers = {"X-Budget-Limit-USD": usd_text(units(budget.limit_usd))}
    if get_config().rate_limits.fail_open:
        return headers
    raise ServiceUnavailable(
        "Budgets cannot be checked just now, so requests are refused; retry shortly",
        headers={**headers, "Retry-After": "1"},
    )


# --- talking to Redis (or to this process's memory) -------------------------------


async def _areply(pending: PendingCheck) -> list | None:
    """The script's reply, seeding absent counters first; None when it cannot be had."""
    check = pending.check
    if not redis_configured():
        return await _alocal_check(check)
    if pending.reply is None:
        return None
    try:
        try:
            raw = await pending.reply
        except NoScriptError:  # Redis restarted or flushed its scripts: EVAL caches it again
            raw = await _aeval(check)
        for _ in check.counters:  # at most one seed per counter
            if int(raw[0]) != UNSEEDED:
                break
            index = int(raw[1]) - 1
            seed = await _aseed(check, index)
            if seed is None:
                return None
            client = await get_fast_redis()
            ttl = _ttl(check, index)
            await client.execute("SET", check.counters[index], seed, "NX", *(("EX", ttl) if ttl else ()))
            raw = await _aeval(check)
    except (redis.RedisError, OSError, asyncio.TimeoutError) as exc:
        _redis_failed(exc)
        return None
    redis_breaker().succeeded()
    return raw


async def _aeval(check: _Check) -> list:
    client = await get_fast_redis()
    keys = (ESTIMATES, *check.counters)
    try:
        return await client.execute("EVALSHA", _CHECK.sha, len(keys), *keys, *check.args)
    except NoScriptError:
        return await client.execute("EVAL", _CHECK.source, len(keys), *keys, *check.args)


def _ttl(check: _Check, index: int) -> int | None:
    seconds = check.periods[index].seconds_left(check.now)
    return None if seconds is None else seconds + GRACE_SECONDS


async def _aseed(check: _Check, index: int) -> int | None:
    try:
        return await sync_to_async(seed_units, thread_sensitive=False)(check.budgets[index], check.periods[index])
    except DatabaseError as exc:
        metrics.child(metrics.DEPENDENCY_ERRORS, "database").inc()
        runtime.part(QuietLog).warning(logger, "spend_seed", "cannot read spend from the database (%s: %s)",
                                       type(exc).__name__, exc, interval=WARN_EVERY)
        return None


def seed_units(budget: Budget, period: Period) -> int:
    """The spend the usage records hold for a budget's owner in a period."""
    from django.db.models import Sum

    from apps.stats.models import UsageRecord
    from gateway_site.db import close_stale_connection

    close_stale_connection()
    owner = {"api_key_id": budget.owner_id} if budget.scope == "key" else {"team_id": budget.owner_id}
    records = UsageRecord.objects.filter(**owner)
    if period.start is not None:
        records = records.filter(created_at__gte=period.start)
    return units(records.aggregate(total=Sum("cost_usd"))["total"] or 0)


async def _arecord(counters: tuple[str, ...], args: tuple) -> None:
    if not redis_breaker().allow():
        return
    try:
        client = await get_fast_redis()
        keys = (ESTIMATES, *counters)
        try:
            await client.execute("EVALSHA", _RECORD.sha, len(keys), *keys, *args)
        except NoScriptError:
            await client.execute("EVAL", _RECORD.source, len(keys), *keys, *args)
    except (redis.RedisError, OSError, asyncio.TimeoutError) as exc:
        _redis_failed(exc)


def _record_sync(counters: tuple[str, ...], args: tuple) -> None:
    keys = (ESTIMATES, *counters)
    try:
        get_sync_redis().eval(_RECORD.source, len(keys), *keys, *args)
    except (redis.RedisError, OSError) as exc:
        _redis_failed(exc)


_pending: set[asyncio.Task] = set()  # spend writes in flight: the loop holds tasks only weakly


def _retrieve(reply: asyncio.Future) -> None:
    if not reply.cancelled():
        reply.exception()  # marks it retrieved: a check never read logs no warning


def _redis_failed(exc: BaseException) -> None:
    redis_call_failed(exc)
    policy = "letting requests through" if get_config().rate_limits.fail_open else "refusing requests"
    runtime.part(QuietLog).warning(
        logger, "budgets_redis", "budgets cannot reach Redis (%s: %s); %s", type(exc).__name__, exc, policy,
        interval=WARN_EVERY,
    )


# --- in-process fallback ------------------------------------------------------------


async def _alocal_check(check: _Check) -> list | None:
    spend = runtime.part(LocalSpend)
    for _ in check.counters:
        raw = spend.check(check.counters, check.args)
        if raw[0] != UNSEEDED:
            return raw
        index = raw[1] - 1
        seed = await _aseed(check, index)
        if seed is None:
            return None
        spend.seed(check.counters[index], seed)
    return spend.check(check.counters, check.args)


class LocalSpend:
    """The Lua scripts' algorithm in process memory, for a gateway without Redis (a part of
    the process's runtime). Counters of past periods are not dropped: a few per key."""

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}
        self.estimates: dict[str, int] = {}
        self._lock = threading.Lock()

    def check(self, counters: tuple[str, ...], args: tuple) -> list[int]:
        model, fallback, reserve, *limits = args
        with self._lock:
            spent = []
            for index, name in enumerate(counters):
                if name not in self.counters:
                    return [UNSEEDED, index + 1, 0]
                spent.append(self.counters[name])
            for index, used in enumerate(spent):
                if used >= limits[index]:
                    return [EXHAUSTED, index + 1, 0, *spent]
            reserved = self.estimates.get(model, fallback) if reserve else 0
            for name in counters:
                self.counters[name] += reserved
            return [ADMITTED, 0, reserved, *(used + reserved for used in spent)]

    def seed(self, name: str, amount: int) -> None:
        with self._lock:
            self.counters.setdefault(name, amount)

    def record(self, counters: tuple[str, ...], model: str, real: int, delta: int) -> None:
        with self._lock:
            if real > 0:
                self.estimates[model] = real
            for name in counters:
                if name in self.counters:
                    self.counters[name] += delta

    def forget(self) -> int:
        with self._lock:
            count = len(self.counters)
            self.counters.clear()
            return count

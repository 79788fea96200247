"""Per-key rate limits shared by every gateway process.

Algorithm: a sliding-window log over the last 60 s. Requests: a Redis sorted set of the
admitted requests' timestamps (at most `rpm` live entries); a request is admitted while
fewer than `rpm` were admitted in the last 60 s, so the limit is exact at any instant,
not per calendar minute. Tokens: real usage is added after each response into per-second
buckets (a Redis hash, at most 61 live fields); a request is refused while the tokens of
the last 60 s reach `tpm` (one request may overshoot; the next one waits).

One check is one EVALSHA of one Lua script (atomic, one round trip, script cached by
Redis; EVAL fallback after a Redis restart). The clock is Redis's own TIME, so gateway
processes on machines with skewed clocks agree; tests pass an explicit clock instead.

Redis layout, per key (hash tag keeps both on one cluster slot; never the raw key):
    pgw:rl:{<first 16 hex of the key's SHA-256>}:r   ZSET  member=random id, score=ms
    pgw:rl:{<first 16 hex of the key's SHA-256>}:t   HASH  bucket end ms -> tokens
Both expire by themselves once the window is idle.

Without REDIS_URL the same algorithm runs in process memory (exact for one process).
Redis unavailable: config rate_limits.fail_open lets requests through (counted in
gateway_rate_limit_fail_open_total, logged at most once a minute) or refuses them with
503 service_unavailable. A Redis found dead (or hung for a few calls) is not asked again for
a second (the Redis breaker, gateway_site/redis_client.py), so a dead Redis costs at most
one socket timeout (50 ms) per second, never a hang.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass

import redis
from redis.exceptions import NoScriptError

from apps.keys.registry import KeyInfo
from apps.stats import metrics
from gateway_site import runtime
from gateway_site.errors import RateLimitExceeded, ServiceUnavailable
from gateway_site.fast_redis import LuaScript, get_fast_redis
from gateway_site.gateway_config import get_config
from gateway_site.quiet_log import QuietLog
from gateway_site.redis_client import get_sync_redis, redis_breaker, redis_call_failed, redis_configured
from gateway_site.request_ids import unique_token

logger = logging.getLogger(__name__)

WINDOW_MS = 60_000
REDIS_PREFIX = "pgw:rl:"
WARN_EVERY = 60.0  # seconds between two "Redis unavailable" log lines

ALLOWED, OVER_REQUESTS, OVER_TOKENS = 0, 1, 2

# Both scripts take "now" in ms as ARGV[1]; 0 means Redis's own clock (tests pass a fixed one).
NOW_LUA = """
local now = tonumber(ARGV[1])
if now == nil or now <= 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

CHECK_LUA = NOW_LUA + """local window, max_requests = tonumber(ARGV[2]), tonumber(ARGV[3])
local max_tokens, cost = tonumber(ARGV[4]), tonumber(ARGV[5])
local since = now - window
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', since)
local count = redis.call('ZCARD', KEYS[1])
local used, token_free_at, token_reset_at = 0, 0, 0
if max_tokens > 0 then
  local flat = redis.call('HGETALL', KEYS[2])
  local buckets = {}
  for i = 1, #flat, 2 do
    local ends = tonumber(flat[i])
    if ends <= since then
      redis.call('HDEL', KEYS[2], flat[i])
    else
      buckets[#buckets + 1] = {ends, tonumber(flat[i + 1])}
      used = used + tonumber(flat[i + 1])
    end
  end
  table.sort(buckets, function(a, b) return a[1] < b[1] end)
  local left = used
  for _, bucket in ipairs(buckets) do
    if left < max_tokens then break end
    left = left - bucket[2]
    token_free_at = bucket[1] + window
  end
  if #buckets > 0 then token_reset_at = buckets[#buckets][1] + window end
end
local verdict = 0
if cost > 0 then
  if count + cost > max_requests then
    verdict = 1
  elseif max_tokens > 0 and used >= max_tokens then
    verdict = 2
  else
    redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[6])
    redis.call('PEXPIRE', KEYS[1], window)
    count = count + cost
  end
end
local free_at, reset_at = 0, 0
if count > 0 then
  local index = math.max(0, count - max_requests)
  free_at = tonumber(redis.call('ZRANGE', KEYS[1], index, index, 'WITHSCORES')[2]) + window
  reset_at = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]) + window
end
return {verdict, now, count, free_at, reset_at, used, token_free_at, token_reset_at}
"""

RECORD_LUA = NOW_LUA + """
local ends = math.floor(now / 1000) * 1000 + 1000
redis.call('HINCRBY', KEYS[1], string.format('%d', ends), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 1000)
return ends
"""


@dataclass(frozen=True)
class Limits:
    requests: int
    tokens: int | None = None


@dataclass(frozen=True)
class Decision:
    """One check's outcome; instants are epoch milliseconds on the limiter's clock."""

    verdict: int
    now_ms: int
    requests_used: int
    request_free_at_ms: int  # when the next request slot frees (0: nothing counted)
    requests_reset_at_ms: int  # when the window holds no request any more
    tokens_used: int = 0
    tokens_free_at_ms: int = 0  # when the tokens in the window drop below the limit
    tokens_reset_at_ms: int = 0


_CHECK = LuaScript(CHECK_LUA)
_RECORD = LuaScript(RECORD_LUA)


# --- public API -------------------------------------------------------------------


def limits_for(key: KeyInfo) -> Limits:
    defaults = get_config().rate_limits
    return Limits(requests=key.rpm or defaults.requests_per_minute, tokens=key.tpm or defaults.tokens_per_minute)


async def arate_limit_check(key: KeyInfo) -> dict[str, str]:
    """Counts one request. Raises RateLimitExceeded when over the limit (503 when Redis is
    down and the config fails closed); returns the rate-limit headers."""
    limits = limits_for(key)
    decision = await adecide(limiter_id(key), limits, cost=1)
    if decision is None:
        return _unavailable(limits)
    headers = limit_headers(limits, decision)
    if decision.verdict != ALLOWED:
        _refuse(limits, decision, headers)
    return headers


async def arate_limit_peek(key: KeyInfo) -> dict[str, str]:
    """The key's current state as headers, without counting a request; never raises."""
    limits = limits_for(key)
    decision = await adecide(limiter_id(key), limits, cost=0)
    return unknown_headers(limits) if decision is None else limit_headers(limits, decision)


def record_tokens(key: KeyInfo, tokens: int, *, now_ms: int | None = None) -> None:
    """Adds a response's real usage to the key's token window. Never blocks the event
    loop nor raises: with a running loop the Redis write is a background task."""
    if tokens <= 0 or not limits_for(key).tokens:
        return  # no token limit applies: nothing will read this window
    if not redis_configured():
        runtime.part(LocalWindows).record(limiter_id(key), tokens, now_ms or _now_ms())
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        _record_sync(limiter_id(key), tokens, now_ms)
        return
    task = loop.create_task(arecord_tokens(limiter_id(key), tokens, now_ms=now_ms))
    _pending.add(task)  # the loop keeps only weak references to tasks
    task.add_done_callback(_pending.discard)


def limiter_id(key: KeyInfo) -> str:
    # A prefix of the key's hash: unique per key whatever database the id came from, and
    # it cannot be turned back into the key.
    return key.key_hash[:16]


# --- deciding ---------------------------------------------------------------------


async def adecide(key_id: str, limits: Limits, *, cost: int, now_ms: int | None = None) -> Decision | None:
    """The check itself; None when Redis is unavailable. `now_ms` fixes the clock (tests)."""
    if not redis_configured():
        return runtime.part(LocalWindows).decide(key_id, limits, cost=cost, now_ms=now_ms or _now_ms())
    if not redis_breaker().allow():
        return None
    args = (now_ms or 0, WINDOW_MS, limits.requests, limits.tokens or 0, cost, unique_token())
    try:
        raw = await _aeval(_CHECK, redis_keys(key_id), args)
    except (redis.RedisError, OSError, asyncio.TimeoutError) as exc:
        _redis_failed(exc)
        return None
    redis_breaker().succeeded()
    return Decision(*(int(value) for value in raw))


async def arecord_tokens(key_id: str, tokens: int, *, now_ms: int | None = None) -> None:
    if not redis_breaker().allow():
        return
    try:
        await _aeval(_RECORD, redis_keys(key_id)[1:], (now_ms or 0, tokens, WINDOW_MS))
    except (redis.RedisError, OSError, asyncio.TimeoutError) as exc:
        _redis_failed(exc)


def redis_keys(key_id: str) -> tuple[str, str]:
    base = f"{REDIS_PREFIX}{{{key_id}}}"
    return f"{base}:r", f"{base}:t"


async def _aeval(script: LuaScript, keys: tuple[str, ...], args: tuple) -> list:
    return await script.aeval(await get_fast_redis(), keys, args)


def _record_sync(key_id: str, tokens: int, now_ms: int | None) -> None:
    client = get_sync_redis()
    keys = redis_keys(key_id)[1:]
    try:
        try:
            client.evalsha(_RECORD.sha, 1, *keys, now_ms or 0, tokens, WINDOW_MS)
        except NoScriptError:
            client.eval(_RECORD.source, 1, *keys, now_ms or 0, tokens, WINDOW_MS)
    except (redis.RedisError, OSError) as exc:
        _redis_failed(exc)


# --- headers and outcomes ---------------------------------------------------------


def limit_headers(limits: Limits, decision: Decision) -> dict[str, str]:
    now = decision.now_ms
    remaining = max(0, limits.requests - decision.requests_used)
    headers = {
        "X-RateLimit-Limit": str(limits.requests),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(_ceil_seconds(decision.request_free_at_ms - now)),
        "x-ratelimit-limit-requests": str(limits.requests),
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": openai_duration(decision.requests_reset_at_ms - now),
    }
    if limits.tokens:
        headers["x-ratelimit-limit-tokens"] = str(limits.tokens)
        headers["x-ratelimit-remaining-tokens"] = str(max(0, limits.tokens - decision.tokens_used))
        headers["x-ratelimit-reset-tokens"] = openai_duration(decision.tokens_reset_at_ms - now)
    return headers


def unknown_headers(limits: Limits) -> dict[str, str]:
    """Redis unavailable: the limits are known, the usage is not; report a full window."""
    return limit_headers(limits, Decision(ALLOWED, 0, 0, 0, 0))


def retry_after_seconds(decision: Decision) -> int:
    free_at = decision.request_free_at_ms if decision.verdict == OVER_REQUESTS else decision.tokens_free_at_ms
    return max(1, _ceil_seconds(free_at - decision.now_ms))


def openai_duration(milliseconds: int) -> str:
    """OpenAI's x-ratelimit-reset-* format (Go durations): "0s", "120ms", "6s", "1m0s"."""
    if milliseconds <= 0:
        return "0s"
    if milliseconds < 1000:
        return f"{milliseconds}ms"
    minutes, rest = divmod(milliseconds, 60_000)
    seconds = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def _ceil_seconds(milliseconds: int) -> int:
    return max(0, math.ceil(milliseconds / 1000))


def _refuse(limits: Limits, decision: Decision, headers: dict[str, str]) -> None:
    kind = "requests" if decision.verdict == OVER_REQUESTS else "tokens"
    metrics.RATE_LIMITED.labels(kind).inc()
    limit = limits.requests if kind == "requests" else limits.tokens
    message = f"Rate limit exceeded: {limit} {kind} per minute for this key; retry after the Retry-After delay"
    raise RateLimitExceeded(message, headers={**headers, "Retry-After": str(retry_after_seconds(decision))})


def _unavailable(limits: Limits) -> dict[str, str]:
    headers = unknown_headers(limits)
    if get_config().rate_limits.fail_open:
        metrics.RATE_LIMIT_FAIL_OPEN.inc()
        return headers
    raise ServiceUnavailable(
        "Rate limiting is unavailable, so requests are refused for now; retry shortly",
        headers={**headers, "Retry-After": "1"},
    )


# --- Redis health -----------------------------------------------------------------


_pending: set[asyncio.Task] = set()  # token writes in flight: the loop holds tasks only weakly


def _redis_failed(exc: BaseException) -> None:
    redis_call_failed(exc)
    policy = "letting requests through" if get_config().rate_limits.fail_open else "refusing requests"
    runtime.part(QuietLog).warning(
        logger, "limiter_redis", "rate limiter cannot reach Redis (%s: %s); %s", type(exc).__name__, exc, policy,
        interval=WARN_EVERY,
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


# --- in-process fallback ------------------------------------------------------------


class LocalWindows:
    """The Lua script's algorithm in process memory, for a gateway without Redis (a part of
    the process's runtime)."""

    def __init__(self) -> None:
        self._requests: dict[str, deque[int]] = {}
        self._tokens: dict[str, dict[int, int]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._tokens.clear()

    def decide(self, key_id: str, limits: Limits, *, cost: int, now_ms: int) -> Decision:
        since = now_ms - WINDOW_MS
        with self._lock:
            log = self._requests.setdefault(key_id, deque())
            while log and log[0] <= since:
                log.popleft()
            used, token_free_at, token_reset_at = self._token_state(key_id, limits.tokens or 0, since)
            verdict = ALLOWED
            if cost:
                if len(log) + cost > limits.requests:
                    verdict = OVER_REQUESTS
                elif limits.tokens and used >= limits.tokens:
                    verdict = OVER_TOKENS
                else:
                    log.append(now_ms)
            free_at = log[max(0, len(log) - limits.requests)] + WINDOW_MS if log else 0
            reset_at = log[-1] + WINDOW_MS if log else 0
            if not log:
                del self._requests[key_id]  # bounded memory: idle keys are forgotten
        return Decision(verdict, now_ms, len(log), free_at, reset_at, used, token_free_at, token_reset_at)

    def record(self, key_id: str, tokens: int, now_ms: int) -> None:
        ends = now_ms // 1000 * 1000 + 1000
        with self._lock:
            buckets = self._live_buckets(key_id, now_ms - WINDOW_MS)
            buckets[ends] = buckets.get(ends, 0) + tokens
            self._tokens[key_id] = buckets

    def _live_buckets(self, key_id: str, since: int) -> dict[int, int]:
        buckets = self._tokens.pop(key_id, {})
        return {ends: tokens for ends, tokens in buckets.items() if ends > since}

    def _token_state(self, key_id: str, max_tokens: int, since: int) -> tuple[int, int, int]:
        buckets = self._live_buckets(key_id, since)
        if buckets:
            self._tokens[key_id] = buckets
        if not max_tokens or not buckets:
            return 0, 0, 0
        used = left = sum(buckets.values())
        free_at = 0
        for ends in sorted(buckets):
            if left < max_tokens:
                break
            left -= buckets[ends]
            free_at = ends + WINDOW_MS
        reset_at = max(buckets) + WINDOW_MS if buckets else 0
        return used, free_at, reset_at


"""Several deployments behind one model: which one to try first, and what each is doing.

A model in config/gateway.yaml may list `deployments` (each a provider entry with its own
key and base URL, a weight and its own rpm/tpm quota). Every deployment is a `ModelRoute`
of its own (same name, its own provider, so its own breaker); `aplan_routes` expands a
request's routes into them, best first, leaving out those at their quota, and the router
tries them in that order (router.py: a failed deployment hands over at once to the next).

Strategies (`routing:`), all reading state every gateway process shares through Redis:
- weighted (default): weighted random choice;
- least-busy: fewest requests in flight (INCR when an attempt starts, DECR when it ends;
  the counter expires after BUSY_TTL idle seconds, so a crashed process cannot pin it);
- latency: lowest EWMA of recent attempt latencies (forgotten after LATENCY_TTL seconds
  without a sample, so a deployment that was slow once gets tried again).
Ties, and the weighted strategy, are broken by weighted random choice.

Cost: one Redis round trip per request for a model with deployments (one script reads every
deployment's quota window, in-flight count and latency), plus two writes nobody waits for
(attempt start, attempt end), pipelined with whatever else the tick sends. A model with one
deployment pays nothing: `config.deployments` is empty for it. Without Redis (not configured,
or its breaker open) the same state lives in process memory: per process, never an error.

Redis layout, per deployment `<model>/<provider>` (hash tag: one cluster slot per model):
    pgw:dep:{<model>}:<provider>:r     ZSET  requests sent in the last 60 s (rpm quota)
    pgw:dep:{<model>}:<provider>:t     HASH  tokens per second bucket (tpm quota)
    pgw:dep:{<model>}:<provider>:busy  INT   attempts in flight
    pgw:dep:{<model>}:<provider>:lat   INT   EWMA of attempt latency, µs
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import redis

from apps.completions.providers.types import ModelRoute
from apps.keys.limiter import RECORD_LUA, WINDOW_MS, Limits, LocalWindows
from apps.stats import metrics
from gateway_site import runtime
from gateway_site.errors import RateLimitExceeded
from gateway_site.fast_redis import LuaScript, get_fast_redis
from gateway_site.gateway_config import GatewayConfig
from gateway_site.quiet_log import QuietLog
from gateway_site.redis_client import redis_breaker, redis_call_failed, redis_configured
from gateway_site.request_ids import unique_token

logger = logging.getLogger(__name__)

T = TypeVar("T")

REDIS_PREFIX = "pgw:dep:"
BUSY_TTL = 300  # seconds: an in-flight counter nobody touched this long is stale
LATENCY_TTL = 60  # seconds: a latency this old is forgotten
LATENCY_WEIGHT = 0.3  # of the newest sample in the EWMA
WARN_EVERY = 60.0
UNKNOWN_LATENCY = -1

NOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS: 4 per deployment (r, t, busy, lat); ARGV: window ms, then rpm and tpm per deployment
# (0: none). Returns over-quota (0/1), in flight and latency (µs, -1 unknown) per deployment.
STATE_LUA = NOW_LUA + """
local since = now - tonumber(ARGV[1])
local out = {}
for i = 0, #KEYS / 4 - 1 do
  local rpm, tpm = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  local over = 0
  if rpm > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[4 * i + 1], '-inf', since)
    if redis.call('ZCARD', KEYS[4 * i + 1]) >= rpm then over = 1 end
  end
  if over == 0 and tpm > 0 then
    local used, flat = 0, redis.call('HGETALL', KEYS[4 * i + 2])
    for j = 1, #flat, 2 do
      if tonumber(flat[j]) <= since then redis.call('HDEL', KEYS[4 * i + 2], flat[j])
      else used = used + tonumber(flat[j + 1]) end
    end
    if used >= tpm then over = 1 end
  end
  out[#out + 1] = over
  out[#out + 1] = tonumber(redis.call('GET', KEYS[4 * i + 3]) or '0')
  out[#out + 1] = tonumber(redis.call('GET', KEYS[4 * i + 4]) or '-1')
end
return out
"""

# KEYS: r, busy; ARGV: window ms, rpm (0: none), a unique member, busy ttl.
START_LUA = NOW_LUA + """
if tonumber(ARGV[2]) > 0 then
  redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[4])
return 1
"""

# KEYS: busy, lat; ARGV: latency µs (-1: failed, no sample), weight of the sample, lat ttl.
END_LUA = """
if redis.call('DECR', KEYS[1]) < 0 then redis.call('SET', KEYS[1], 0) end
local sample = tonumber(ARGV[1])
if sample >= 0 then
  local old = tonumber(redis.call('GET', KEYS[2]))
  if old then sample = tonumber(ARGV[2]) * sample + (1 - tonumber(ARGV[2])) * old end
  redis.call('SET', KEYS[2], string.format('%d', sample), 'EX', ARGV[3])
end
return 1
"""

_STATE, _START, _END, _TOKENS = LuaScript(STATE_LUA), LuaScript(START_LUA), LuaScript(END_LUA), LuaScript(RECORD_LUA)
_pending: set[asyncio.Task] = set()  # token writes in flight: the loop holds tasks only weakly


@dataclass(frozen=True)
class DeploymentState:
    over_quota: bool = False
    busy: int = 0
    latency_us: int = UNKNOWN_LATENCY


class AllDeploymentsAtQuota(RateLimitExceeded):
    pass


# --- choosing -----------------------------------------------------------------------


async def aplan_routes(routes: list[ModelRoute], config: GatewayConfig) -> list[ModelRoute]:
    """`routes` (a model and its fallbacks) with every model that has deployments replaced
    by those deployments, best first, less those at their own quota."""
    groups = [config.deployments.get(route.name) for route in routes]
    if not any(groups):
        return routes
    wanted = [deployment for group in groups if group for deployment in group]
    states = dict(zip((deployment.deployment for deployment in wanted), await adeployment_states(wanted)))
    planned: list[ModelRoute] = []
    for route, group in zip(routes, groups):
        if group is None:
            planned.append(route)
        else:
            planned += order_deployments(group, [states[deployment.deployment] for deployment in group])
    if not planned:
        raise AllDeploymentsAtQuota(f"Every deployment of {routes[0].name} is at its quota; retry shortly",
                                    headers={"Retry-After": "1"})
    return planned


def order_deployments(group: Sequence[ModelRoute], states: Sequence[DeploymentState],
                      rand: Callable[[], float] = random.random) -> list[ModelRoute]:
    """The deployments to try, in order: the strategy's best first (weighted random among
    equals), then the others by score and weight. Those at their quota are left out."""
    usable = [(deployment, state) for deployment, state in zip(group, states) if not state.over_quota]
    for deployment, state in zip(group, states):
        if state.over_quota:
            metrics.child(metrics.DEPLOYMENT_SKIPPED, deployment.deployment).inc()
    if not usable:
        return []
    score = _SCORES[group[0].routing]
    best = min(score(state) for _, state in usable)
    first = _weighted_pick([deployment for deployment, state in usable if score(state) == best], rand())
    rest = sorted((pair for pair in usable if pair[0] is not first), key=lambda pair: (score(pair[1]), -pair[0].weight))
    return [first, *(deployment for deployment, _ in rest)]


def _latency_score(state: DeploymentState) -> float:
    return -1.0 if state.latency_us == UNKNOWN_LATENCY else state.latency_us  # unknown: try it, to learn


_SCORES: dict[str, Callable[[DeploymentState], float]] = {
    "weighted": lambda state: 0,
    "least-busy": lambda state: state.busy,
    "latency": _latency_score,
}


def _weighted_pick(candidates: list[ModelRoute], draw: float) -> ModelRoute:
    point = draw * sum(deployment.weight for deployment in candidates)
    for deployment in candidates:
        point -= deployment.weight
        if point < 0:
            return deployment
    return candidates[-1]


# --- shared state -------------------------------------------------------------------


async def adeployment_states(deployments: Sequence[ModelRoute]) -> list[DeploymentState]:
    """Every deployment's state in one Redis round trip; from process memory without Redis."""
    if not _redis_usable():
        return [runtime.part(LocalDeployments).state(deployment) for deployment in deployments]
    keys = tuple(key for deployment in deployments for key in redis_keys(deployment.deployment))
    args = (WINDOW_MS, *(value for deployment in deployments for value in (deployment.rpm or 0, deployment.tpm or 0)))
    try:
        raw = await _STATE.aeval(await get_fast_redis(), keys, args)
    except (redis.RedisError, OSError, asyncio.TimeoutError) as exc:
        _redis_failed(exc)
        return [runtime.part(LocalDeployments).state(deployment) for deployment in deployments]
    redis_breaker().succeeded()
    return [DeploymentState(bool(raw[i]), int(raw[i + 1]), int(raw[i + 2])) for i in range(0, len(raw), 3)]


def tracked(attempt: Callable[[ModelRoute], Awaitable[T]]) -> Callable[[ModelRoute], Awaitable[T]]:
    """`attempt`, counting each attempt on a deployment: its quota, in-flight count and
    latency (a stream's: until its first words)."""

    async def run(route: ModelRoute) -> T:
        if not route.deployment:
            return await attempt(route)
        await _astarted(route)
        started, latency = time.perf_counter(), None
        try:
            result = await attempt(route)
            latency = time.perf_counter() - started
            return result
        finally:
            await _aended(route, latency)

    return run


async def _astarted(route: ModelRoute) -> None:
    if not _redis_usable():
        runtime.part(LocalDeployments).started(route)
        return
    keys = redis_keys(route.deployment)
    try:
        client = await get_fast_redis()
    except (redis.RedisError, OSError, asyncio.TimeoutError) as exc:
        _redis_failed(exc)
        return
    _START.send(client, (keys[0], keys[2]), (WINDOW_MS, route.rpm or 0, unique_token(), BUSY_TTL), _redis_failed)


async def _aended(route: ModelRoute, latency: float | None) -> None:
    if not _redis_usable():
        runtime.part(LocalDeployments).ended(route, latency)
        return
    sample = UNKNOWN_LATENCY if latency is None else int(latency * 1_000_000)
    try:
        client = await get_fast_redis()
    except (redis.RedisError, OSError, asyncio.TimeoutError) as exc:
        _redis_failed(exc)
        return
    _END.send(client, redis_keys(route.deployment)[2:], (sample, LATENCY_WEIGHT, LATENCY_TTL), _redis_failed)


def record_deployment_tokens(route: ModelRoute, tokens: int) -> None:
    """A response's tokens into its deployment's tpm window (never blocks nor raises)."""
    if not route.tpm or tokens <= 0:
        return
    if not _redis_usable():
        runtime.part(LocalDeployments).windows.record(route.deployment, tokens, _now_ms())
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # outcomes are recorded on the event loop; nothing to do elsewhere
    task = loop.create_task(_asend_tokens(route.deployment, tokens))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def _asend_tokens(deployment: str, tokens: int) -> None:
    try:
        _TOKENS.send(await get_fast_redis(), (redis_keys(deployment)[1],), (0, tokens, WINDOW_MS), _redis_failed)
    except (redis.RedisError, OSError, asyncio.TimeoutError) as exc:
        _redis_failed(exc)


def redis_keys(deployment: str) -> tuple[str, str, str, str]:
    model, _, provider = deployment.rpartition("/")
    base = f"{REDIS_PREFIX}{{{model}}}:{provider}"
    return f"{base}:r", f"{base}:t", f"{base}:busy", f"{base}:lat"


def _redis_usable() -> bool:
    return redis_configured() and redis_breaker().allow()


def _redis_failed(exc: BaseException) -> None:
    redis_call_failed(exc)
    runtime.part(QuietLog).warning(
        logger, "deployments_redis", "deployment routing cannot reach Redis (%s: %s); using this process's own counts",
        type(exc).__name__, exc, interval=WARN_EVERY,
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class LocalDeployments:
    """The same state in process memory, for a gateway without Redis (a runtime part)."""

    def __init__(self) -> None:
        self.windows = LocalWindows()  # rpm and tpm windows, by deployment id
        self.busy: dict[str, int] = {}
        self.latency_us: dict[str, tuple[float, float]] = {}  # deployment -> (EWMA, when)

    def state(self, route: ModelRoute) -> DeploymentState:
        over = False
        if route.rpm or route.tpm:
            limits = Limits(requests=route.rpm or 2**31, tokens=route.tpm)
            decision = self.windows.decide(route.deployment, limits, cost=0, now_ms=_now_ms())
            over = decision.requests_used >= limits.requests or bool(route.tpm and decision.tokens_used >= route.tpm)
        latency, when = self.latency_us.get(route.deployment, (UNKNOWN_LATENCY, 0.0))
        if time.monotonic() - when > LATENCY_TTL:
            latency = UNKNOWN_LATENCY
        return DeploymentState(over, self.busy.get(route.deployment, 0), int(latency))

    def started(self, route: ModelRoute) -> None:
        self.busy[route.deployment] = self.busy.get(route.deployment, 0) + 1
        if route.rpm:
            self.windows.decide(route.deployment, Limits(requests=2**31), cost=1, now_ms=_now_ms())

    def ended(self, route: ModelRoute, latency: float | None) -> None:
        self.busy[route.deployment] = max(0, self.busy.get(route.deployment, 0) - 1)
        if latency is not None:
            sample = latency * 1_000_000
            old, when = self.latency_us.get(route.deployment, (UNKNOWN_LATENCY, 0.0))
            fresh = old != UNKNOWN_LATENCY and time.monotonic() - when <= LATENCY_TTL
            self.latency_us[route.deployment] = (
                LATENCY_WEIGHT * sample + (1 - LATENCY_WEIGHT) * old if fresh else sample, time.monotonic())

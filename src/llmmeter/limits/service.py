"""Per-plan rate limits: GCRA in Redis (shared by every worker and replica), falling back to
an in-process limiter while Redis is unreachable or slow, and back again when it answers."""

from __future__ import annotations

import logging
import time
import uuid
from importlib.resources import files

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeout

from llmmeter.config import Plan
from llmmeter.kit.errors import RateLimited
from llmmeter.limits.gcra import Decision
from llmmeter.limits.lease import Lease, lease_size
from llmmeter.limits.local import LocalLimiter

log = logging.getLogger(__name__)
_SCRIPT = files("llmmeter.limits").joinpath("redis_gcra.lua").read_text()
KEY_PREFIX = "llmmeter:rl:"
TIMEOUTS_FOR_OUTAGE = 3
_PRUNE_LEASES_AT = 10_000


def redis_key(workspace_id: uuid.UUID) -> str:
    # Braces make the key its own cluster hash slot.
    return f"{KEY_PREFIX}{{{workspace_id}}}"


class RateLimiter:
    """Holds the connections and the fallback state of one worker."""

    def __init__(
        self,
        redis: Redis | None,
        *,
        workers: int,
        retry_after_failure_s: float,
        lease_window_s: float = 0.0,
    ) -> None:
        self._redis = redis
        self._script = redis.register_script(_SCRIPT) if redis is not None else None
        self._local = LocalLimiter(share=workers if redis is not None else 1)
        self._retry_after_failure_s = retry_after_failure_s
        self._down_until = 0.0
        self._outage = False
        self._timeouts = 0
        # Records admitted in-process while Redis was out, per workspace: charged to Redis
        # when it answers again, so the shared bucket does not refill them twice.
        self._debt: dict[uuid.UUID, int] = {}
        self._lease_window_s = lease_window_s
        self._leases: dict[uuid.UUID, Lease] = {}

    async def acquire(self, workspace_id: uuid.UUID, plan: Plan, cost: int) -> Decision:
        now = time.monotonic()
        rate, burst = plan.rate_per_second, plan.burst
        lease = self._leases.get(workspace_id)
        if lease is not None and lease.fits(rate, burst, cost, now, self._lease_window_s):
            return lease.take(cost, now)
        if self._script is not None and now >= self._down_until:
            decision = await self._ask_redis(workspace_id, plan, cost, lease, now)
            if decision is not None:
                return decision
        decision = self._local.acquire(workspace_id, plan.rate_per_second, plan.burst, cost)
        if decision.allowed and self._script is not None:
            self._add_debt(workspace_id, cost)
        return decision

    async def _ask_redis(
        self, workspace_id: uuid.UUID, plan: Plan, cost: int, lease: Lease | None, now: float
    ) -> Decision | None:
        """One script call: hands back the unused part of this worker's lease, charges the
        cost and takes a new lease; None when Redis did not answer."""
        assert self._script is not None
        rate, burst = plan.rate_per_second, plan.burst
        want = lease_size(lease, rate, burst, cost, now, self._lease_window_s)
        debt = self._debt.pop(workspace_id, 0) - (lease.hand_back() if lease else 0)
        try:
            result = await self._script(
                keys=[redis_key(workspace_id)], args=[rate, burst, cost, debt, want]
            )
        except (RedisError, OSError, TimeoutError) as exc:
            self._add_debt(workspace_id, debt)
            self._fail(exc)
            return None
        self._recover()
        allowed, remaining, retry_us, reset_us, leased = (int(v) for v in result)
        self._local.sync(workspace_id, rate, burst, remaining)
        if allowed:
            self._keep_lease(workspace_id, plan, now, leased, remaining, reset_us / 1e6, cost)
        return Decision(bool(allowed), burst, remaining, retry_us / 1e6, reset_us / 1e6)

    def _keep_lease(
        self,
        workspace_id: uuid.UUID,
        plan: Plan,
        now: float,
        leased: int,
        remaining: int,
        reset_s: float,
        cost: int,
    ) -> None:
        # Kept even when empty: its `asked_at` and `used` size the next lease. Records still
        # held here were granted to a concurrent call of this worker (the lease this call
        # started from was handed back): merged, not dropped.
        current = self._leases.get(workspace_id)
        carried = current.hand_back() if current is not None else 0
        if len(self._leases) > _PRUNE_LEASES_AT:
            self._leases = {k: v for k, v in self._leases.items() if v.tokens}
        self._leases[workspace_id] = Lease(
            plan.rate_per_second,
            plan.burst,
            asked_at=now,
            tokens=leased + carried,
            used=cost,
            remaining=remaining,
            reset_s=reset_s,
        )

    def _add_debt(self, workspace_id: uuid.UUID, records: int) -> None:
        if records:
            if len(self._debt) > 100_000:
                self._debt.clear()  # an outage this wide: forget rather than grow
            self._debt[workspace_id] = self._debt.get(workspace_id, 0) + records

    def _fail(self, exc: BaseException) -> None:
        # A lone timeout may be our own busy event loop rather than Redis: that request falls
        # back alone. A refused connection, or timeouts in a row, is an outage: stop asking
        # and probe again after a pause, so a hung Redis does not cost every request a timeout.
        if isinstance(exc, RedisTimeout | TimeoutError):
            self._timeouts += 1
            if self._timeouts < TIMEOUTS_FOR_OUTAGE:
                return
        self._timeouts = 0
        self._down_until = time.monotonic() + self._retry_after_failure_s
        if not self._outage:
            self._outage = True
            log.warning("rate limiter: Redis unavailable (%s); limiting in-process", exc)

    def _recover(self) -> None:
        self._timeouts = 0
        if self._outage:
            self._outage = False
            log.warning("rate limiter: Redis answers again; limiting in Redis")


class LimitsService:
    async def check(
        self, limiter: RateLimiter, workspace_id: uuid.UUID, plan: Plan, records: int
    ) -> Decision:
        decision = await limiter.acquire(workspace_id, plan, records)
        if not decision.allowed:
            raise RateLimited(
                f"Rate limit of {plan.rate_per_second:g} records/s (burst {plan.burst}) reached; "
                f"retry after {decision.retry_after_seconds} s.",
                headers=decision.headers(),
            )
        return decision


limits_service = LimitsService()

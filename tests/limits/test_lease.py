"""Leases: a busy worker takes a little of a workspace's rate from Redis in advance. Paid for
before use (never more than the shared bucket allows), sized by demand, handed back unused."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from llmmeter.config import Plan
from llmmeter.limits.lease import Lease, lease_size
from llmmeter.limits.service import RateLimiter
from tests.fixtures.redis_server import RedisServer

WINDOW = 0.025


def _plan(rate: float, burst: int) -> Plan:
    return Plan(name="Test", monthly_requests=None, rate_per_second=rate, burst=burst)


@pytest.fixture
async def redis_client(private_redis: RedisServer) -> AsyncIterator[Redis]:
    client = Redis.from_url(private_redis.url)
    yield client
    await client.aclose()


async def _script_calls(client: Redis) -> int:
    stats = await client.info("commandstats")
    return sum(
        int(value["calls"])
        for name, value in stats.items()
        if name in ("cmdstat_evalsha", "cmdstat_eval")
    )


def test_lease_size_follows_demand_within_the_caps() -> None:
    previous = Lease(2000, 10_000, asked_at=10.0, used=9)
    # 10 records in 10 ms: 1,000/s, so 25 records for a 25 ms window
    assert lease_size(previous, 2000, 10_000, 1, 10.010, WINDOW) in (25, 26)
    # demand far above the plan: capped at the window's share of the rate (2,000/s · 25 ms)
    assert lease_size(previous, 2000, 10_000, 1, 10.0001, WINDOW) == 50
    # a quarter of the burst at most
    small_burst = Lease(2000, 100, asked_at=10.0, used=9)
    assert lease_size(small_burst, 2000, 100, 1, 10.0001, WINDOW) == 25
    # the first call of a workspace, a plan change, or a plan too slow for one record per window
    assert lease_size(None, 2000, 10_000, 1, 10.0, WINDOW) == 0
    assert lease_size(previous, 500, 10_000, 1, 10.010, WINDOW) == 0
    slow = Lease(20, 20, asked_at=10.0, used=9)
    assert lease_size(slow, 20, 20, 1, 10.0001, WINDOW) == 0


def test_a_lease_serves_only_its_plan_its_window_and_what_it_holds() -> None:
    lease = Lease(1000, 100, asked_at=5.0, tokens=3, remaining=50, reset_s=0.05)
    assert lease.fits(1000, 100, 3, 5.01, WINDOW)
    assert not lease.fits(1000, 100, 4, 5.01, WINDOW)
    assert not lease.fits(1000, 100, 1, 5.03, WINDOW)  # expired
    assert not lease.fits(999, 100, 1, 5.01, WINDOW)
    decision = lease.take(2, 5.01)
    assert decision.allowed
    assert decision.limit == 100
    # 50 left in Redis + 1 still leased + 10 refilled over 10 ms (9 with float rounding)
    assert decision.remaining in (60, 61)
    assert lease.hand_back() == 1
    assert lease.hand_back() == 0


@pytest.fixture
async def limiter(redis_client: Redis) -> RateLimiter:
    limiter = RateLimiter(redis_client, workers=2, retry_after_failure_s=1, lease_window_s=WINDOW)
    await limiter.acquire(uuid.uuid4(), _plan(1, 1), 1)  # loads the script
    return limiter


async def test_a_busy_workspace_asks_redis_once_per_lease_not_per_request(
    redis_client: Redis, limiter: RateLimiter
) -> None:
    workspace, plan = uuid.uuid4(), _plan(2000, 10_000)
    before = await _script_calls(redis_client)
    decisions = [await limiter.acquire(workspace, plan, 1) for _ in range(300)]
    calls = await _script_calls(redis_client) - before
    assert all(d.allowed for d in decisions)
    assert calls < 300 / 5, calls


async def test_a_slow_plan_never_leases(redis_client: Redis, limiter: RateLimiter) -> None:
    workspace, plan = uuid.uuid4(), _plan(20, 20)
    before = await _script_calls(redis_client)
    admitted = [(await limiter.acquire(workspace, plan, 1)).allowed for _ in range(30)]
    assert await _script_calls(redis_client) - before == 30
    assert admitted.count(True) == 20


async def test_unused_leased_records_go_back_to_redis(redis_client: Redis) -> None:
    # Refill 40/s: under one record over the few milliseconds this takes.
    limiter = RateLimiter(redis_client, workers=1, retry_after_failure_s=1, lease_window_s=1.0)
    workspace, plan = uuid.uuid4(), _plan(40, 100)
    assert (await limiter.acquire(workspace, plan, 1)).remaining in (99, 100)  # no lease yet
    leased = await limiter.acquire(workspace, plan, 1)
    assert leased.remaining in (73, 74)  # 100 - 2 - a lease of 25 (a quarter of the burst)
    for _ in range(5):
        assert (await limiter.acquire(workspace, plan, 1)).allowed  # from the lease
    # 50 do not fit in the 20 leased ones left: Redis gets the 20 back, then takes 50 and a
    # new lease of 25. Without the hand-back only 73 would be free and 50 + 25 would not fit.
    big = await limiter.acquire(workspace, plan, 50)
    assert big.allowed
    assert big.remaining in (18, 19, 20)


async def test_leases_never_admit_more_than_the_shared_bucket(redis_client: Redis) -> None:
    # Two workers sharing one workspace, each with ten busy request tasks.
    workers = [
        RateLimiter(redis_client, workers=2, retry_after_failure_s=1, lease_window_s=WINDOW)
        for _ in range(2)
    ]
    workspace, plan = uuid.uuid4(), _plan(1000, 50)
    admitted = calls = 0
    start = time.monotonic()
    deadline = start + 0.3

    async def client(limiter: RateLimiter) -> None:
        nonlocal admitted, calls
        while time.monotonic() < deadline:
            decision = await limiter.acquire(workspace, plan, 1)
            admitted += decision.allowed  # after the await: `x += await …` reads x before it
            calls += 1
            await asyncio.sleep(0)

    await asyncio.gather(*(client(w) for w in workers for _ in range(10)))
    elapsed = time.monotonic() - start
    assert admitted <= plan.burst + plan.rate_per_second * elapsed + 1
    assert admitted >= plan.rate_per_second * 0.3 / 2, (admitted, calls)  # no starving

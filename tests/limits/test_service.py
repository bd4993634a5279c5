"""Rate limits against the real Redis, and what happens when Redis goes away and comes back."""

from __future__ import annotations

import asyncio
import time

import httpx
import redis
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.config import PlanTier, Settings
from llmmeter.limits.service import redis_key
from tests.conftest import REDIS_URL, serve, with_plan
from tests.fixtures.factories import count_rows, create_keyed_workspace, record
from tests.fixtures.redis_server import RedisServer
from tests.test_cli import free_port

URL = "/v1/ingest/llm-request"


def _twenty_per_second(settings: Settings) -> Settings:
    return with_plan(settings, PlanTier.starter, rate_per_second=20, burst=20)


async def _burst(
    client: httpx.AsyncClient, headers: dict[str, str], n: int
) -> list[httpx.Response]:
    return list(
        await asyncio.gather(*(client.post(URL, json=record(), headers=headers) for _ in range(n)))
    )


async def test_burst_of_a_hundred_admits_exactly_the_burst(
    pg_settings: Settings, db: AsyncSession
) -> None:
    # A slow refill, so that the time the burst takes to arrive adds no token.
    ws = await create_keyed_workspace(db)
    slow = with_plan(pg_settings, PlanTier.starter, rate_per_second=0.1, burst=20)
    async with serve(slow) as client:
        statuses = [r.status_code for r in await _burst(client, ws.headers, 100)]
    assert statuses.count(200) == 20
    assert statuses.count(429) == 80
    assert await count_rows(db, ws.id) == 20


async def test_twenty_per_second_refusals_carry_a_retry_after_that_works(
    pg_settings: Settings, db: AsyncSession
) -> None:
    ws = await create_keyed_workspace(db)
    other = await create_keyed_workspace(db)
    async with serve(_twenty_per_second(pg_settings)) as client:
        start = time.perf_counter()
        responses = await _burst(client, ws.headers, 100)
        elapsed = time.perf_counter() - start
        statuses = [r.status_code for r in responses]
        # 20 at once, plus what 20/s refills while the burst is being served (GCRA is exact;
        # the in-process server needs a while to get 100 requests to the limiter).
        assert 20 <= statuses.count(200) <= 20 + 20 * elapsed + 1
        assert statuses.count(200) + statuses.count(429) == 100
        refused = [r for r in responses if r.status_code == 429]
        assert all(r.json()["reason"] == "rate_limited" for r in refused)
        assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
        for response in responses:
            assert {"ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"} <= set(
                response.headers
            )
            assert response.headers["RateLimit-Limit"] == "20"

        # The other workspace has its own bucket.
        assert (await client.post(URL, json=record(), headers=other.headers)).status_code == 200

        # Drain the bucket, then take the advice of the refusal.
        while (
            last := await client.post(URL, json=record(), headers=ws.headers)
        ).status_code == 200:
            pass
        await asyncio.sleep(int(last.headers["Retry-After"]))
        assert (await client.post(URL, json=record(), headers=ws.headers)).status_code == 200
    assert redis.Redis.from_url(REDIS_URL).exists(redis_key(ws.id))


async def test_a_batch_costs_one_token_per_record(pg_settings: Settings, db: AsyncSession) -> None:
    ws = await create_keyed_workspace(db)
    async with serve(_twenty_per_second(pg_settings)) as client:
        batch = {"requests": [record() for _ in range(15)]}
        first = await client.post("/v1/ingest/llm-requests", json=batch, headers=ws.headers)
        assert first.status_code == 200
        assert first.headers["RateLimit-Remaining"] == "5"
        second = await client.post("/v1/ingest/llm-requests", json=batch, headers=ws.headers)
        assert second.status_code == 429
    assert await count_rows(db, ws.id) == 15


async def test_rate_limit_applies_before_validation(
    pg_settings: Settings, db: AsyncSession
) -> None:
    ws = await create_keyed_workspace(db)
    limited = with_plan(pg_settings, PlanTier.starter, rate_per_second=1, burst=1)
    async with serve(limited) as client:
        bad = await client.post(URL, json={"nope": True}, headers=ws.headers)
        assert bad.status_code == 422
        assert "RateLimit-Remaining" in bad.headers
        good = await client.post(URL, json=record(), headers=ws.headers)
        assert good.status_code == 429


async def _timed(
    client: httpx.AsyncClient, headers: dict[str, str], n: int
) -> list[tuple[int, float]]:
    results = []
    for _ in range(n):
        start = time.perf_counter()
        response = await client.post(URL, json=record(), headers=headers)
        results.append((response.status_code, time.perf_counter() - start))
    return results


async def test_closed_redis_port_falls_back_to_the_in_process_limiter(
    pg_settings: Settings, db: AsyncSession
) -> None:
    ws = await create_keyed_workspace(db)
    slow = with_plan(pg_settings, PlanTier.starter, rate_per_second=0.1, burst=20)
    settings = slow.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    async with serve(settings) as client:
        warm = await create_keyed_workspace(db)  # the first request of an app is a cold start
        assert (await client.post(URL, json=record(), headers=warm.headers)).status_code == 200
        timed = await _timed(client, ws.headers, 10)
        assert [status for status, _ in timed] == [200] * 10
        assert max(seconds for _, seconds in timed) < 0.1
        statuses = [r.status_code for r in await _burst(client, ws.headers, 40)]
    # in-process at the plan's rate: 10 of the burst of 20 were left; the rest is refused
    assert statuses.count(200) == 10
    assert statuses.count(429) == 30
    assert 500 not in statuses
    assert 503 not in statuses


async def test_redis_lost_frozen_and_back(
    pg_settings: Settings, db: AsyncSession, private_redis: RedisServer
) -> None:
    ws = await create_keyed_workspace(db, plan=PlanTier.pro)
    key = redis_key(ws.id)
    settings = pg_settings.model_copy(
        update={"redis_url": private_redis.url, "limiter_probe_seconds": 0.3}
    )
    async with serve(settings) as client:
        assert (await client.post(URL, json=record(), headers=ws.headers)).status_code == 200
        assert private_redis.has_key(key)

        private_redis.stop()
        down = await _timed(client, ws.headers, 10)
        private_redis.start()  # an empty Redis on the same port
        await asyncio.sleep(0.4)
        assert (await client.post(URL, json=record(), headers=ws.headers)).status_code == 200
        assert private_redis.has_key(key), "the limiter went back to Redis"

        private_redis.freeze()  # accepts connections, never answers
        frozen = await _timed(client, ws.headers, 10)
        private_redis.thaw()
        await asyncio.sleep(0.4)
        assert (await client.post(URL, json=record(), headers=ws.headers)).status_code == 200

    for status, seconds in down + frozen:
        assert status == 200
        assert seconds < 0.1, (down, frozen)
    assert await count_rows(db, ws.id) == 23

"""The monthly request quota: exact under concurrency, counted with the rows, paused at 402."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.config import PlanTier, Settings
from llmmeter.models import LLMRequest
from llmmeter.plan.service import plan_service
from tests.conftest import FakeClock, serve, with_plan
from tests.fixtures.factories import KeyedWorkspace, count_rows, create_keyed_workspace, record

URL = "/v1/ingest/llm-request"


def _quota(settings: Settings, monthly: int) -> Settings:
    return with_plan(
        settings, PlanTier.starter, monthly_requests=monthly, rate_per_second=5000, burst=5000
    )


async def test_quota_of_100_under_150_concurrent_records(
    settings: Settings, db: AsyncSession
) -> None:
    ws = await create_keyed_workspace(db)
    clock = FakeClock()
    clock.set(datetime(2026, 5, 20, 12, tzinfo=UTC))
    async with serve(_quota(settings, 100), clock) as client:
        bodies = [record() for _ in range(150)]
        responses = await asyncio.gather(
            *(client.post(URL, json=b, headers=ws.headers) for b in bodies)
        )
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == 100
        assert statuses.count(402) == 50
        paused = next(r.json() for r in responses if r.status_code == 402)
        assert paused["reason"] == "plan_limit_reached"
        assert paused["telemetryPaused"] is True
        assert paused["providerCallsContinue"] is True
        assert paused["isPlanLimitReached"] is True
        assert paused["freeLimitRemainingRequests"] == 0
        assert await count_rows(db, ws.id) == 100

        # A duplicate of a stored row is still answered 200 while paused.
        stored = bodies[statuses.index(200)]
        duplicate = await client.post(URL, json=stored, headers=ws.headers)
        assert duplicate.status_code == 200
        assert duplicate.json()["deduplicated"] is True
        assert duplicate.json()["telemetryPaused"] is True
        # A refused record stored nothing: sending it again is refused again, not deduplicated.
        refused = bodies[statuses.index(402)]
        assert (await client.post(URL, json=refused, headers=ws.headers)).status_code == 402

        clock.set(datetime(2026, 6, 1, 0, 0, 1, tzinfo=UTC))
        next_month = await client.post(URL, json=refused, headers=ws.headers)
        assert next_month.status_code == 200
        assert next_month.json()["deduplicated"] is False
        assert next_month.json()["freeLimitRemainingRequests"] == 99
    assert await count_rows(db, ws.id) == 101


async def test_batch_takes_what_fits_and_refuses_the_rest(
    settings: Settings, db: AsyncSession
) -> None:
    ws = await create_keyed_workspace(db)
    async with serve(_quota(settings, 10)) as client:
        first = [record() for _ in range(7)]
        await client.post("/v1/ingest/llm-requests", json={"requests": first}, headers=ws.headers)
        second = [first[0], *(record() for _ in range(5))]
        answer = (
            await client.post(
                "/v1/ingest/llm-requests", json={"requests": second}, headers=ws.headers
            )
        ).json()
    assert [r["ok"] for r in answer["results"]] == [True, True, True, True, False, False]
    assert answer["results"][0]["deduplicated"] is True
    assert [r["reason"] for r in answer["results"][4:]] == ["plan_limit_reached"] * 2
    assert (answer["accepted"], answer["rejected"], answer["telemetryPaused"]) == (4, 2, True)
    assert await count_rows(db, ws.id) == 10


async def test_plan_change_applies_to_the_next_request(
    settings: Settings, db: AsyncSession
) -> None:
    from llmmeter.auth.principal import WorkspaceScope
    from llmmeter.workspace.service import workspace_service

    ws = await create_keyed_workspace(db, plan=PlanTier.free)
    async with serve(settings) as client:
        before = (await client.post(URL, json=record(), headers=ws.headers)).json()
        await workspace_service.set_plan(db, WorkspaceScope(ws.id), PlanTier.pro)
        await db.commit()
        after = (await client.post(URL, json=record(), headers=ws.headers)).json()
    assert (before["planTier"], before["planLimitRequests"]) == ("free", 10_000)
    assert (after["planTier"], after["planLimitRequests"]) == ("pro", 1_000_000)
    assert after["freeLimitRemainingRequests"] == 1_000_000 - 2


async def _client_loop(
    client: httpx.AsyncClient, ws: KeyedWorkspace, until: float, sent: list[int]
) -> None:
    retry = None
    while time.monotonic() < until:
        body = retry or record(status="error" if len(sent) % 7 == 0 else "success")
        response = await client.post(URL, json=body, headers=ws.headers)
        assert response.status_code == 200, response.text
        sent.append(1)
        # Every third call is retried once, some with a changed outcome.
        retry = {**body, "status": "success"} if retry is None and len(sent) % 3 == 0 else None


async def test_counters_equal_rows_under_64_concurrent_clients(
    settings: Settings, db: AsyncSession
) -> None:
    ws = await create_keyed_workspace(db, plan=PlanTier.enterprise)
    sent: list[int] = []
    async with serve(settings) as client:
        until = time.monotonic() + 10
        await asyncio.gather(*(_client_loop(client, ws, until, sent) for _ in range(64)))
    rows, cost = (
        await db.execute(
            select(func.count(), func.coalesce(func.sum(LLMRequest.cost_nano_usd), 0)).where(
                LLMRequest.workspace_id == ws.id
            )
        )
    ).one()
    usage = await plan_service.usage(db, ws.id, "UTC", datetime.now(UTC))
    assert rows > 200
    assert len(sent) > rows  # retries happened
    assert usage.month_counts.requests == rows
    assert usage.day_counts.requests == rows
    assert usage.month_counts.cost_nano_usd == cost
    assert usage.day_counts.cost_nano_usd == cost

"""Group commit of single records (PostgreSQL): requests in flight share one transaction, and
each is answered as if it had been stored alone."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.app import create_app
from llmmeter.config import PlanTier, Settings
from llmmeter.ingest import batcher as batcher_module
from llmmeter.ingest.service import IngestService
from llmmeter.models import LLMRequest, UsageCounter
from tests.conftest import FakeClock, serve, with_plan
from tests.fixtures.factories import KeyedWorkspace, create_keyed_workspace, record

URL = "/v1/ingest/llm-request"


@pytest.fixture
def settings(pg_settings: Settings) -> Settings:
    return pg_settings  # the group commit runs on PostgreSQL only


@pytest.fixture
def batch_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of records of each shared write."""
    sizes: list[int] = []
    store_many = IngestService.store_many

    async def recording(self: IngestService, session: AsyncSession, jobs: list[Any]) -> Any:
        sizes.append(len(jobs))
        return await store_many(self, session, jobs)

    monkeypatch.setattr(IngestService, "store_many", recording)
    return sizes


async def post_all(
    client: httpx.AsyncClient, bodies: list[dict[str, Any]], headers: list[dict[str, str]]
) -> list[httpx.Response]:
    return list(
        await asyncio.gather(
            *(client.post(URL, json=b, headers=h) for b, h in zip(bodies, headers, strict=True))
        )
    )


async def stored_count(db: AsyncSession, workspace_id: uuid.UUID) -> int:
    return int(
        await db.scalar(
            select(func.count())
            .select_from(LLMRequest)
            .where(LLMRequest.workspace_id == workspace_id)
        )
        or 0
    )


async def test_records_in_flight_share_a_transaction_and_are_each_answered(
    app_client: httpx.AsyncClient, db: AsyncSession, ws: KeyedWorkspace, batch_sizes: list[int]
) -> None:
    bodies = [record() for _ in range(40)]
    responses = await post_all(app_client, bodies, [ws.headers] * 40)
    assert [r.status_code for r in responses] == [200] * 40
    answers = [r.json() for r in responses]
    assert [a["externalRequestId"] for a in answers] == [b["externalRequestId"] for b in bodies]
    assert len({a["requestId"] for a in answers}) == 40
    assert all(a["deduplicated"] is False for a in answers)
    assert max(batch_sizes) > 1, batch_sizes  # they did share writes
    assert sum(batch_sizes) == 40
    assert await stored_count(db, ws.id) == 40
    counters = (
        await db.scalars(select(UsageCounter).where(UsageCounter.workspace_id == ws.id))
    ).all()
    assert sorted(c.request_count for c in counters) == [40, 40]  # the day and the month


async def test_the_same_id_twice_in_one_write_is_stored_once(
    app_client: httpx.AsyncClient, db: AsyncSession, ws: KeyedWorkspace, batch_sizes: list[int]
) -> None:
    body = record()
    responses = await post_all(
        app_client, [body] * 6 + [record() for _ in range(6)], [ws.headers] * 12
    )
    assert [r.status_code for r in responses] == [200] * 12
    same = [r.json() for r in responses[:6]]
    assert len({a["requestId"] for a in same}) == 1
    assert sorted(a["deduplicated"] for a in same) == [False] + [True] * 5
    assert await stored_count(db, ws.id) == 7


async def test_workspaces_in_one_write_keep_their_own_quota_and_answers(
    settings: Settings, clock: FakeClock, db: AsyncSession, batch_sizes: list[int]
) -> None:
    # Starter quota lowered to 5: the sixth and later calls of `small` are refused (402), while
    # `big` (another plan) goes on, even when their records share a write.
    limited = with_plan(settings, PlanTier.starter, monthly_requests=5)
    small = await create_keyed_workspace(db, plan=PlanTier.starter)
    big = await create_keyed_workspace(db, plan=PlanTier.enterprise)
    bodies = [record() for _ in range(24)]
    small_headers, big_headers = small.headers, big.headers
    headers = [small_headers if i % 2 == 0 else big_headers for i in range(24)]
    async with serve(limited, clock) as client:
        responses = await post_all(client, bodies, headers)
    small_codes = [
        r.status_code for r, h in zip(responses, headers, strict=True) if h is small_headers
    ]
    big_codes = [r.status_code for r, h in zip(responses, headers, strict=True) if h is big_headers]
    assert sorted(small_codes) == [200] * 5 + [402] * 7
    assert big_codes == [200] * 12
    refused = [r.json() for r in responses if r.status_code == 402]
    assert all(a["reason"] == "plan_limit_reached" and a["telemetryPaused"] for a in refused)
    big_answers = [r.json() for r, h in zip(responses, headers, strict=True) if h is big_headers]
    assert all(a["planTier"] == "enterprise" for a in big_answers)
    assert await stored_count(db, small.id) == 5
    assert await stored_count(db, big.id) == 12
    assert max(batch_sizes) > 1
    # A write counts its calls in its insert unless that would pass the quota: then it takes
    # the count back and admits call by call. Either way the counters equal the rows.
    for workspace, n in ((small, 5), (big, 12)):
        counters = (
            await db.scalars(select(UsageCounter).where(UsageCounter.workspace_id == workspace.id))
        ).all()
        assert sorted(c.request_count for c in counters) == [n, n]


async def test_a_failed_shared_write_is_retried_one_by_one(
    app_client: httpx.AsyncClient,
    db: AsyncSession,
    ws: KeyedWorkspace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A write of several records fails once (as a lost connection would): every record is then
    # written in a transaction of its own, and every request still gets its own answer.
    store_many = IngestService.store_many
    failed: list[int] = []

    async def flaky(self: IngestService, session: AsyncSession, jobs: list[Any]) -> Any:
        if len(jobs) > 1 and not failed:
            failed.append(len(jobs))
            await store_many(self, session, jobs)  # written, then rolled back
            raise RuntimeError("connection lost")
        return await store_many(self, session, jobs)

    monkeypatch.setattr(IngestService, "store_many", flaky)
    bodies = [record() for _ in range(30)]
    responses = await post_all(app_client, bodies, [ws.headers] * 30)
    assert failed, "no shared write happened"
    assert [r.status_code for r in responses] == [200] * 30
    assert all(r.json()["deduplicated"] is False for r in responses)
    assert await stored_count(db, ws.id) == 30


async def test_a_request_whose_own_write_fails_gets_an_error_and_the_others_do_not(
    app_client: httpx.AsyncClient,
    db: AsyncSession,
    ws: KeyedWorkspace,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    poisoned = record(endpointTag="poison")
    store_many = IngestService.store_many

    async def failing(self: IngestService, session: AsyncSession, jobs: list[Any]) -> Any:
        if any(item.row["endpoint_tag"] == "poison" for _, item in jobs):
            raise ConnectionError("storage went away")
        return await store_many(self, session, jobs)

    monkeypatch.setattr(IngestService, "store_many", failing)
    bodies = [record() for _ in range(10)] + [poisoned] + [record() for _ in range(10)]
    responses = await post_all(app_client, bodies, [ws.headers] * 21)
    codes = [r.status_code for r in responses]
    assert codes[10] == 503  # storage trouble, safe to retry
    assert codes[:10] + codes[11:] == [200] * 20
    assert await stored_count(db, ws.id) == 20


@pytest.mark.parametrize("writers", [1, 2, 3])
async def test_writers_of_one_worker_write_at_once_and_keep_the_counters_exact(
    settings: Settings,
    clock: FakeClock,
    db: AsyncSession,
    ws: KeyedWorkspace,
    monkeypatch: pytest.MonkeyPatch,
    writers: int,
) -> None:
    # Each write is slowed down, so that records keep arriving while writes are in flight.
    store_many = IngestService.store_many
    active: list[int] = [0]
    most: list[int] = [0]

    async def slow(self: IngestService, session: AsyncSession, jobs: list[Any]) -> Any:
        active[0] += 1
        most[0] = max(most[0], active[0])
        try:
            await asyncio.sleep(0.02)
            return await store_many(self, session, jobs)
        finally:
            active[0] -= 1

    monkeypatch.setattr(IngestService, "store_many", slow)
    bodies = [record() for _ in range(60)]
    async with serve(settings.model_copy(update={"ingest_writers": writers}), clock) as client:
        responses = await post_all(client, bodies, [ws.headers] * 60)
    assert [r.status_code for r in responses] == [200] * 60
    assert len({r.json()["requestId"] for r in responses}) == 60
    assert most[0] == writers
    assert await stored_count(db, ws.id) == 60
    counters = (
        await db.scalars(select(UsageCounter).where(UsageCounter.workspace_id == ws.id))
    ).all()
    assert sorted(c.request_count for c in counters) == [60, 60]


async def test_queued_records_are_written_before_shutdown(
    settings: Settings, clock: FakeClock, db: AsyncSession, ws: KeyedWorkspace
) -> None:
    async with serve(settings, clock) as client:
        tasks = [
            asyncio.create_task(client.post(URL, json=record(), headers=ws.headers))
            for _ in range(20)
        ]
        responses = await asyncio.gather(*tasks)
    assert [r.status_code for r in responses] == [200] * 20
    assert await stored_count(db, ws.id) == 20


@pytest.mark.parametrize(
    ("backend", "max_records", "expected"),
    [
        ("postgresql", 256, batcher_module.IngestBatcher),
        ("postgresql", 1, batcher_module.DirectWriter),
        ("sqlite", 256, batcher_module.DirectWriter),
    ],
)
async def test_group_commit_runs_on_postgresql_unless_set_to_one(
    backend: str, max_records: int, expected: type, request: pytest.FixtureRequest
) -> None:
    base: Settings = request.getfixturevalue(
        f"{'pg' if backend == 'postgresql' else 'sqlite'}_settings"
    )
    app = create_app(base.model_copy(update={"ingest_batch_max_records": max_records}))
    async with app.router.lifespan_context(app) as state:
        assert isinstance(state["app"].writer, expected)

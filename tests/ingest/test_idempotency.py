from __future__ import annotations

import asyncio

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.plan.service import plan_service
from tests.conftest import FakeClock
from tests.fixtures.factories import (
    KeyedWorkspace,
    count_rows,
    create_keyed_workspace,
    record,
    rows_of,
)

URL = "/v1/ingest/llm-request"


async def _usage(db: AsyncSession, ws: KeyedWorkspace, clock: FakeClock) -> int:
    usage = await plan_service.usage(db, ws.id, "UTC", clock())
    return usage.month_counts.requests


async def test_fifty_concurrent_duplicates_store_one_row(
    app_client: httpx.AsyncClient,
    ws: KeyedWorkspace,
    db: AsyncSession,
    clock: FakeClock,
) -> None:
    body = record()
    responses = await asyncio.gather(
        *(app_client.post(URL, json=body, headers=ws.headers) for _ in range(50))
    )

    assert [r.status_code for r in responses] == [200] * 50
    answers = [r.json() for r in responses]
    assert sum(not a["deduplicated"] for a in answers) == 1
    assert len({a["requestId"] for a in answers}) == 1
    assert all(a["updated"] is False for a in answers if a["deduplicated"])
    assert await count_rows(db, ws.id) == 1
    assert await _usage(db, ws, clock) == 1


async def test_identical_retry_changes_nothing(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    body = record()
    first = (await app_client.post(URL, json=body, headers=ws.headers)).json()
    [before] = await rows_of(db, ws.id)
    snapshot = {
        c: getattr(before, c) for c in ("updated_at", "attempts", "cost_nano_usd", "fingerprint")
    }
    again = (await app_client.post(URL, json=body, headers=ws.headers)).json()

    assert again["deduplicated"] is True
    assert again["updated"] is False
    assert again["requestId"] == first["requestId"]
    assert again["costUsd"] == first["costUsd"]
    [after] = await rows_of(db, ws.id)
    assert {c: getattr(after, c) for c in snapshot} == snapshot


async def test_error_then_success_replaces_the_error(
    app_client: httpx.AsyncClient,
    ws: KeyedWorkspace,
    db: AsyncSession,
    clock: FakeClock,
) -> None:
    error = record(status="error", errorCode="rate_limited", outputTokens=0, latencyMs=90)
    success = {
        **error,
        "status": "success",
        "errorCode": None,
        "outputTokens": 45,
        "latencyMs": 800,
    }
    first = (await app_client.post(URL, json=error, headers=ws.headers)).json()
    second = (await app_client.post(URL, json=success, headers=ws.headers)).json()

    assert (second["deduplicated"], second["updated"]) == (True, True)
    assert second["requestId"] == first["requestId"]
    assert second["costUsd"] > first["costUsd"]
    [row] = await rows_of(db, ws.id)
    assert (row.status, row.error_code, row.output_tokens, row.latency_ms, row.attempts) == (
        "success",
        None,
        45,
        800,
        2,
    )
    assert row.cost_nano_usd == 45_000
    assert await _usage(db, ws, clock) == 1


async def test_success_then_error_keeps_the_success(
    app_client: httpx.AsyncClient,
    ws: KeyedWorkspace,
    db: AsyncSession,
    clock: FakeClock,
) -> None:
    success = record()
    error = {**success, "status": "error", "errorCode": "timeout"}
    first = (await app_client.post(URL, json=success, headers=ws.headers)).json()
    second = (await app_client.post(URL, json=error, headers=ws.headers)).json()

    assert (second["deduplicated"], second["updated"]) == (True, False)
    assert second["requestId"] == first["requestId"]
    assert second["costUsd"] == first["costUsd"]
    [row] = await rows_of(db, ws.id)
    assert (row.status, row.error_code, row.attempts) == ("success", None, 1)
    assert await _usage(db, ws, clock) == 1


async def test_error_then_another_error_takes_the_newer(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    first = record(status="error", errorCode="timeout")
    second = {**first, "errorCode": "rate_limited"}
    await app_client.post(URL, json=first, headers=ws.headers)
    answer = (await app_client.post(URL, json=second, headers=ws.headers)).json()
    assert answer["updated"] is True
    [row] = await rows_of(db, ws.id)
    assert (row.error_code, row.attempts) == ("rate_limited", 2)


async def test_same_id_in_two_workspaces_is_two_rows(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    other = await create_keyed_workspace(db)
    body = record()
    a = (await app_client.post(URL, json=body, headers=ws.headers)).json()
    b = (await app_client.post(URL, json=body, headers=other.headers)).json()
    assert (a["deduplicated"], b["deduplicated"]) == (False, False)
    assert a["requestId"] != b["requestId"]
    assert await count_rows(db, ws.id) == 1
    assert await count_rows(db, other.id) == 1


async def test_concurrent_error_and_success_reports_end_in_success(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    error = record(status="error", errorCode="timeout")
    success = {**error, "status": "success", "errorCode": None}
    bodies = [error, success] * 15
    responses = await asyncio.gather(
        *(app_client.post(URL, json=b, headers=ws.headers) for b in bodies)
    )
    assert {r.status_code for r in responses} == {200}
    [row] = await rows_of(db, ws.id)
    assert row.status == "success"

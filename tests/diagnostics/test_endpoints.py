from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.auth.principal import WorkspaceScope
from llmmeter.workspace.service import workspace_service
from tests.conftest import FakeClock
from tests.fixtures.factories import create_keyed_workspace, record

URL = "/v1/diagnostics/workspace-status"
_PERIOD = {
    "limitUsd": 50,
    "currentSpendUsd": 41.25,
    "utilizationRatio": 0.825,
    "isWarning": True,
    "isExceeded": False,
    "period": "daily",
    "periodStart": "…",
    "periodEnd": "…",
}
# The SPEC's example body ("monthly" has the same fields as "daily").
SPEC_BODY: dict[str, Any] = {
    "workspaceId": "…",
    "isPlanLimitReached": False,
    "telemetryPaused": False,
    "providerCallsContinue": True,
    "isBudgetWarning": True,
    "isBudgetExceeded": False,
    "severity": "warning",
    "plan": {
        "planTier": "starter",
        "planName": "Starter",
        "currentRequestCount": 98231,
        "planRequestLimit": 100000,
        "remainingRequestCount": 1769,
        "isPlanLimitReached": False,
        "telemetryPaused": False,
        "periodStart": "2026-03-01T00:00:00Z",
        "periodEnd": "2026-03-31T23:59:59Z",
    },
    "budget": {"warningThresholdRatio": 0.8, "daily": _PERIOD, "monthly": _PERIOD},
}


def key_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: key_tree(v) for k, v in value.items()}
    return None


async def test_body_matches_the_spec_key_by_key_with_the_right_numbers(
    app_client: httpx.AsyncClient, db: AsyncSession, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 3, 14, 9, 30, tzinfo=UTC))
    ws = await create_keyed_workspace(db)
    await workspace_service.set_budget(
        db, WorkspaceScope(ws.id), daily_usd=Decimal("0.0001"), monthly_usd=None
    )
    await db.commit()
    for _ in range(3):  # gpt-4o-mini, 120 in / 45 out: $0.000045 each
        await app_client.post("/v1/ingest/llm-request", json=record(), headers=ws.headers)

    response = await app_client.get(URL, headers=ws.headers)
    assert response.status_code == 200
    body = response.json()
    assert key_tree(body) == key_tree(SPEC_BODY)
    assert body["workspaceId"] == str(ws.id)
    assert body["severity"] == "critical"  # $0.000135 spent of a $0.0001 daily budget
    assert (body["isBudgetWarning"], body["isBudgetExceeded"]) == (True, True)
    assert body["plan"] == {
        "planTier": "starter",
        "planName": "Starter",
        "currentRequestCount": 3,
        "planRequestLimit": 100_000,
        "remainingRequestCount": 99_997,
        "isPlanLimitReached": False,
        "telemetryPaused": False,
        "periodStart": "2026-03-01T00:00:00Z",
        "periodEnd": "2026-03-31T23:59:59Z",
    }
    daily, monthly = body["budget"]["daily"], body["budget"]["monthly"]
    assert daily["currentSpendUsd"] == pytest.approx(0.000135)
    assert daily["utilizationRatio"] == pytest.approx(1.35)
    assert (daily["period"], daily["periodStart"], daily["periodEnd"]) == (
        "daily",
        "2026-03-14T00:00:00Z",
        "2026-03-14T23:59:59Z",
    )
    assert monthly == {
        "limitUsd": None,
        "currentSpendUsd": pytest.approx(0.000135),
        "utilizationRatio": None,
        "isWarning": False,
        "isExceeded": False,
        "period": "monthly",
        "periodStart": "2026-03-01T00:00:00Z",
        "periodEnd": "2026-03-31T23:59:59Z",
    }
    assert body["budget"]["warningThresholdRatio"] == 0.8


async def test_fresh_workspace_is_normal(app_client: httpx.AsyncClient, db: AsyncSession) -> None:
    ws = await create_keyed_workspace(db)
    body = (await app_client.get(URL, headers=ws.headers)).json()
    assert body["severity"] == "normal"
    assert body["plan"]["currentRequestCount"] == 0
    assert body["budget"]["daily"]["limitUsd"] is None
    assert body["budget"]["daily"]["isWarning"] is False


async def test_time_zone_moves_the_periods(
    app_client: httpx.AsyncClient, db: AsyncSession, clock: FakeClock
) -> None:
    clock.set(datetime(2026, 3, 31, 23, 30, tzinfo=UTC))
    ws = await create_keyed_workspace(db, time_zone="Asia/Tokyo")
    body = (await app_client.get(URL, headers=ws.headers)).json()
    assert body["plan"]["periodStart"] == "2026-03-31T15:00:00Z"  # April 1st in Tokyo
    assert body["budget"]["daily"]["periodStart"] == "2026-03-31T15:00:00Z"


async def test_needs_a_key(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get(URL)
    assert response.status_code == 401
    assert response.json()["reason"] == "invalid_api_key"

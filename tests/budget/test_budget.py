"""Budgets: warning at the ratio, exceeded at the limit, hard_stop refuses new calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.auth.principal import WorkspaceScope
from llmmeter.budget.config import BudgetPolicy
from llmmeter.kit.errors import ValidationFailed
from llmmeter.pricing.service import pricing_service
from llmmeter.workspace.service import workspace_service
from tests.fixtures.factories import KeyedWorkspace, count_rows, create_keyed_workspace, record

URL = "/v1/ingest/llm-request"


async def _ten_cent_model(db: AsyncSession, ws: KeyedWorkspace) -> None:
    # $1000 per million input tokens: 100 input tokens cost exactly $0.10.
    await pricing_service.add_override(
        db,
        ws.id,
        provider="acme",
        model="dime",
        input_per_1m=Decimal(1000),
        output_per_1m=Decimal(0),
        effective_at=datetime.now(UTC) - timedelta(days=1),
    )


def _dime() -> dict[str, object]:
    return record(provider="acme", model="dime", inputTokens=100, outputTokens=0, totalTokens=100)


async def test_daily_budget_warns_then_exceeds_then_hard_stops(
    app_client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ws = await create_keyed_workspace(db)
    await _ten_cent_model(db, ws)
    scope = WorkspaceScope(ws.id)
    await workspace_service.set_budget(
        db, scope, daily_usd=Decimal(1), monthly_usd=None, warning_ratio=Decimal("0.8")
    )
    await db.commit()

    answers = []
    for _ in range(11):
        response = await app_client.post(URL, json=_dime(), headers=ws.headers)
        assert response.status_code == 200
        answers.append(response.json())
    assert all(a["costUsd"] == pytest.approx(0.1) for a in answers)
    warnings = [a["budgetWarning"] for a in answers]
    exceeded = [a["budgetExceeded"] for a in answers]
    assert warnings.index(True) == 7  # the 8th record brings spend to $0.80
    assert all(warnings[7:])
    assert exceeded.index(True) == 9  # the 10th reaches $1.00
    assert all(exceeded[9:])

    await workspace_service.set_budget(
        db,
        scope,
        daily_usd=Decimal(1),
        monthly_usd=None,
        warning_ratio=Decimal("0.8"),
        policy=BudgetPolicy.hard_stop,
    )
    await db.commit()
    stored_before = await count_rows(db, ws.id)
    blocked = await app_client.post(URL, json=_dime(), headers=ws.headers)
    assert blocked.status_code == 402
    assert blocked.json()["reason"] == "budget_exceeded"
    assert blocked.json()["budgetExceeded"] is True
    assert await count_rows(db, ws.id) == stored_before
    # A duplicate of a stored call is still answered.
    stored = {**_dime(), "externalRequestId": answers[0]["externalRequestId"]}
    duplicate = await app_client.post(URL, json=stored, headers=ws.headers)
    assert duplicate.status_code == 200
    assert duplicate.json()["deduplicated"] is True


async def test_monthly_budget_and_observe_policy_never_blocks(
    app_client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ws = await create_keyed_workspace(db)
    await _ten_cent_model(db, ws)
    await workspace_service.set_budget(
        db, WorkspaceScope(ws.id), daily_usd=None, monthly_usd=Decimal("0.25")
    )
    await db.commit()
    answers = [
        (await app_client.post(URL, json=_dime(), headers=ws.headers)).json() for _ in range(4)
    ]
    assert [a["budgetWarning"] for a in answers] == [False, True, True, True]
    assert [a["budgetExceeded"] for a in answers] == [False, False, True, True]
    assert all(a["ok"] for a in answers)


async def test_replacing_an_error_counts_the_cost_difference_once(
    app_client: httpx.AsyncClient, db: AsyncSession
) -> None:
    ws = await create_keyed_workspace(db)
    await _ten_cent_model(db, ws)
    await workspace_service.set_budget(
        db, WorkspaceScope(ws.id), daily_usd=Decimal("0.15"), monthly_usd=None
    )
    await db.commit()
    failed = {**_dime(), "status": "error", "inputTokens": 10, "totalTokens": 10}
    first = (await app_client.post(URL, json=failed, headers=ws.headers)).json()
    assert (first["costUsd"], first["budgetWarning"]) == (pytest.approx(0.01), False)
    retried = {**failed, "status": "success", "inputTokens": 130, "totalTokens": 130}
    second = (await app_client.post(URL, json=retried, headers=ws.headers)).json()
    assert second["updated"] is True
    # spend is now the row's $0.13 (not $0.14): warning at 0.12, not exceeded at 0.15
    assert (second["budgetWarning"], second["budgetExceeded"]) == (True, False)


@pytest.mark.parametrize(
    ("daily", "ratio"),
    [(Decimal(-1), Decimal("0.8")), (Decimal(1), Decimal(0)), (Decimal(1), Decimal("1.5"))],
)
async def test_invalid_budget_settings_are_refused(
    db: AsyncSession, ws: KeyedWorkspace, daily: Decimal, ratio: Decimal
) -> None:
    with pytest.raises(ValidationFailed):
        await workspace_service.set_budget(
            db, WorkspaceScope(ws.id), daily_usd=daily, monthly_usd=None, warning_ratio=ratio
        )

"""A budget on metadata.tenantId = acme: warns at its ratio and, under hard stop, refuses
only acme's new records (duplicates still answered)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from llmmeter.alert.schemas import parse_rule
from llmmeter.alert.service import alert_service
from llmmeter.auth.principal import WorkspaceScope
from llmmeter.config import Settings
from llmmeter.kit.time import utc_now
from tests.conftest import serve
from tests.fixtures.factories import KeyedWorkspace, count_rows, record

# The canonical record (gpt-4o-mini, 120 in / 45 out) costs $0.000045.
LIMIT = "0.0001"  # warning at 0.8 → $0.00008 (2 records), exceeded at 3 records


def acme(**overrides: object) -> dict[str, object]:
    return record(metadata={"tenantId": "acme"}, **overrides)


def globex() -> dict[str, object]:
    return record(metadata={"tenantId": "globex"})


async def test_scoped_budget_warns_then_blocks_only_its_scope(
    db: AsyncSession,
    ws: KeyedWorkspace,
    sessions: async_sessionmaker[AsyncSession],
    alert_settings: Settings,
) -> None:
    data = parse_rule(
        {
            "name": "acme daily budget",
            "metric": "budget_daily",
            "scope_kind": "metadata",
            "scope_key": "tenantId",
            "scope_value": "acme",
            "budget_limit_usd": LIMIT,
            "warning_ratio": "0.8",
            "hard_stop": "on",
            "enabled": "on",
        },
        [],
    )
    await alert_service.save_rule(db, WorkspaceScope(ws.id), ws.id, data, utc_now())
    await db.commit()

    rounds = iter(range(10))

    async def evaluate() -> None:
        # Each round as if the worker's next interval had come.
        at = utc_now() + timedelta(seconds=31 * next(rounds))
        await alert_service.evaluate_due(sessions, alert_settings, at)

    async with serve(alert_settings) as client:
        post = lambda body: client.post(  # noqa: E731
            "/v1/ingest/llm-request", json=body, headers=ws.headers
        )
        first = await post(acme())
        assert first.json()["budgetWarning"] is False
        await post(acme())
        await evaluate()  # $0.00009 ≥ 0.8 × $0.0001: warning
        third_body = acme()
        third = await post(third_body)
        assert third.status_code == 200
        assert (third.json()["budgetWarning"], third.json()["budgetExceeded"]) == (True, False)
        other = await post(globex())
        assert other.json()["budgetWarning"] is False  # not in the scope

        await evaluate()  # $0.000135 ≥ $0.0001: exceeded, hard stop
        refused = await post(acme())
        assert refused.status_code == 402
        assert refused.json()["reason"] == "budget_exceeded"
        assert refused.json()["budgetExceeded"] is True
        assert (await post(globex())).status_code == 200  # other tenants go on
        again = await post(third_body)  # a retry of a stored acme call is still answered
        assert again.status_code == 200
        assert again.json()["deduplicated"] is True

        batch = await client.post(
            "/v1/ingest/llm-requests",
            json={"requests": [acme(), globex(), acme()]},
            headers=ws.headers,
        )
        results = batch.json()["results"]
        assert [r["reason"] for r in results] == ["budget_exceeded", None, "budget_exceeded"]
        assert batch.json()["accepted"] == 1

    assert await count_rows(db, ws.id) == 3 + 3  # acme ×3, globex ×3


async def test_a_workspace_wide_rule_of_another_kind_never_blocks(
    db: AsyncSession,
    ws: KeyedWorkspace,
    sessions: async_sessionmaker[AsyncSession],
    alert_settings: Settings,
) -> None:
    data = parse_rule(
        {
            "name": "any",
            "metric": "request_count",
            "window": "1h",
            "critical": "1",
            "enabled": "on",
        },
        [],
    )
    await alert_service.save_rule(db, WorkspaceScope(ws.id), ws.id, data, utc_now())
    await db.commit()
    async with serve(alert_settings) as client:
        for _ in range(3):
            r = await client.post("/v1/ingest/llm-request", json=record(), headers=ws.headers)
            assert r.status_code == 200
        await alert_service.evaluate_due(sessions, alert_settings, utc_now())
        r = await client.post("/v1/ingest/llm-request", json=record(), headers=ws.headers)
        assert r.status_code == 200
        assert r.json()["budgetExceeded"] is False


async def test_switching_a_blocking_rule_off_unblocks_at_once(
    db: AsyncSession,
    ws: KeyedWorkspace,
    sessions: async_sessionmaker[AsyncSession],
    alert_settings: Settings,
) -> None:
    form = {
        "name": "tiny",
        "metric": "budget_monthly",
        "budget_limit_usd": "0.00001",
        "hard_stop": "on",
        "enabled": "on",
    }
    rule = await alert_service.save_rule(
        db, WorkspaceScope(ws.id), ws.id, parse_rule(form, []), utc_now()
    )
    await db.commit()
    async with serve(alert_settings) as client:
        post = lambda: client.post(  # noqa: E731
            "/v1/ingest/llm-request", json=record(), headers=ws.headers
        )
        assert (await post()).status_code == 200
        await alert_service.evaluate_due(sessions, alert_settings, utc_now())
        assert (await post()).status_code == 402  # a workspace-wide scope blocks everything
        off = parse_rule({**form, "enabled": "off"}, [])
        await alert_service.save_rule(
            db, WorkspaceScope(ws.id), ws.id, off, utc_now(), rule_id=rule.id
        )
        await db.commit()
        assert (await post()).status_code == 200

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.kit.errors import ValidationFailed
from llmmeter.pricing.service import pricing_service
from tests.fixtures.factories import KeyedWorkspace, record, rows_of

URL = "/v1/ingest/llm-request"


async def test_override_prices_only_calls_after_its_effective_time(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    now = datetime.now(UTC)
    before = record(externalRequestId="a-before")
    await app_client.post(URL, json=before, headers=ws.headers)
    await pricing_service.add_override(
        db,
        ws.id,
        provider="OpenAI",
        model="GPT-4o-mini",
        input_per_1m=Decimal(1),
        output_per_1m=Decimal(2),
        effective_at=now - timedelta(hours=1),
    )
    await db.commit()
    backdated = record(
        externalRequestId="b-backdated", createdAt=(now - timedelta(hours=2)).isoformat()
    )
    after = record(externalRequestId="c-after")
    await app_client.post(URL, json=backdated, headers=ws.headers)
    answer = (await app_client.post(URL, json=after, headers=ws.headers)).json()

    assert answer["costUsd"] == pytest.approx((120 * 1 + 45 * 2) / 1e6)
    rows = {r.external_request_id: r for r in await rows_of(db, ws.id)}
    assert rows["a-before"].cost_nano_usd == 45_000  # stored earlier: never rewritten
    assert rows["b-backdated"].cost_nano_usd == 45_000  # the call predates the override
    assert rows["c-after"].cost_nano_usd == 210_000
    assert rows["c-after"].price_snapshot is not None
    assert rows["c-after"].price_snapshot["source"] == "override"


async def test_override_rejects_negative_prices(db: AsyncSession, ws: KeyedWorkspace) -> None:
    with pytest.raises(ValidationFailed):
        await pricing_service.add_override(
            db,
            ws.id,
            provider="openai",
            model="gpt-4o",
            input_per_1m=Decimal(-1),
            output_per_1m=Decimal(1),
            effective_at=datetime.now(UTC),
        )

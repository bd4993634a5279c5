from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.config import PlanTier
from llmmeter.plan.service import month_of
from tests.conftest import FakeClock
from tests.fixtures.factories import create_keyed_workspace, record

URL = "/v1/ingest/llm-request"


def test_month_in_utc_and_in_a_time_zone() -> None:
    utc = month_of(datetime(2026, 3, 31, 23, 30, tzinfo=UTC), "UTC")
    assert (utc.start_date, utc.start, utc.end) == (
        date(2026, 3, 1),
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    )
    tokyo = month_of(datetime(2026, 3, 31, 23, 30, tzinfo=UTC), "Asia/Tokyo")
    assert tokyo.start_date == date(2026, 4, 1)
    assert tokyo.start == datetime(2026, 3, 31, 15, tzinfo=UTC)
    december = month_of(datetime(2026, 12, 15, tzinfo=UTC), "UTC")
    assert december.end == datetime(2027, 1, 1, tzinfo=UTC)


async def test_usage_counts_new_rows_per_month(
    app_client: httpx.AsyncClient, db: AsyncSession, clock: FakeClock
) -> None:
    keyed = await create_keyed_workspace(db)
    clock.set(datetime(2026, 1, 31, 23, 59, tzinfo=UTC))
    answers = [
        (await app_client.post(URL, json=record(), headers=keyed.headers)).json() for _ in range(3)
    ]
    assert [a["freeLimitRemainingRequests"] for a in answers] == [99_999, 99_998, 99_997]
    clock.set(datetime(2026, 2, 1, 0, 1, tzinfo=UTC))
    answer = (await app_client.post(URL, json=record(), headers=keyed.headers)).json()
    assert answer["freeLimitRemainingRequests"] == 99_999


async def test_unlimited_plan_reports_nulls(
    app_client: httpx.AsyncClient, db: AsyncSession
) -> None:
    keyed = await create_keyed_workspace(db, plan=PlanTier.enterprise)
    answer = (await app_client.post(URL, json=record(), headers=keyed.headers)).json()
    assert (
        answer["planTier"],
        answer["planLimitRequests"],
        answer["freeLimitRemainingRequests"],
    ) == (
        "enterprise",
        None,
        None,
    )
    assert answer["isPlanLimitReached"] is False

"""Plans (from settings) and the exact monthly request count each workspace is billed on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.config import Plan, Settings
from llmmeter.plan.repository import usage_repository


@dataclass(frozen=True, slots=True)
class Period:
    start_date: date  # first day of the month in the workspace's time zone
    start: datetime  # as UTC instants
    end: datetime  # exclusive


def month_of(now: datetime, time_zone: str) -> Period:
    tz = ZoneInfo(time_zone)
    local = now.astimezone(tz)
    first = local.date().replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    start = datetime(first.year, first.month, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(following.year, following.month, 1, tzinfo=tz).astimezone(UTC)
    return Period(first, start, end)


@dataclass(frozen=True, slots=True)
class PlanState:
    tier: str
    plan: Plan
    used: int
    period: Period

    @property
    def limit(self) -> int | None:
        return self.plan.monthly_requests

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(self.limit - self.used, 0)

    @property
    def limit_reached(self) -> bool:
        return self.limit is not None and self.used >= self.limit

    def ingest_fields(self) -> dict[str, Any]:
        return {
            "planTier": self.tier,
            "planLimitRequests": self.limit,
            "freeLimitRemainingRequests": self.remaining,
            "isPlanLimitReached": self.limit_reached,
            "telemetryPaused": self.limit_reached,
            "providerCallsContinue": True,
        }


class PlanService:
    async def record_requests(
        self,
        session: AsyncSession,
        settings: Settings,
        *,
        workspace_id: uuid.UUID,
        tier: str,
        time_zone: str,
        now: datetime,
        count: int,
    ) -> PlanState:
        """Counts `count` newly stored calls (0 only reads) in the same transaction as the rows."""
        period = month_of(now, time_zone)
        if count:
            used = await usage_repository.add_requests(
                session, workspace_id, period.start_date, count
            )
        else:
            used = await usage_repository.requests(session, workspace_id, period.start_date)
        return PlanState(tier=tier, plan=settings.plan(tier), used=used, period=period)


plan_service = PlanService()

"""Plans (from settings) and the exact counters each workspace is billed and budgeted on:
requests and spend per calendar month and day, in the workspace's time zone."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.auth.principal import WorkspaceScope
from llmmeter.config import Plan, Settings
from llmmeter.plan.repository import DAY, MONTH, Counts, usage_repository


@dataclass(frozen=True, slots=True)
class Period:
    start_date: date  # first local day of the period
    start: datetime  # as UTC instants
    end: datetime  # exclusive

    @property
    def last_second(self) -> datetime:
        return self.end - timedelta(seconds=1)


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def month_of(now: datetime, time_zone: str) -> Period:
    return _month(now.astimezone(ZoneInfo(time_zone)).date().replace(day=1), time_zone)


def day_of(now: datetime, time_zone: str) -> Period:
    return _day(now.astimezone(ZoneInfo(time_zone)).date(), time_zone)


# Every ingest transaction asks for its month and day; the local-midnight arithmetic is
# worked out once per zone and date.
@lru_cache(maxsize=1024)
def _month(first: date, time_zone: str) -> Period:
    tz = ZoneInfo(time_zone)
    following = (first + timedelta(days=32)).replace(day=1)
    return Period(first, _local_midnight(first, tz), _local_midnight(following, tz))


@lru_cache(maxsize=1024)
def _day(today: date, time_zone: str) -> Period:
    tz = ZoneInfo(time_zone)
    return Period(today, _local_midnight(today, tz), _local_midnight(today + timedelta(days=1), tz))


@dataclass(frozen=True, slots=True)
class Usage:
    """A workspace's counters for the month and the day that contain `now`."""

    month: Period
    day: Period
    month_counts: Counts
    day_counts: Counts


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


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: int  # how many of the new calls fit in the quota, in the order given
    usage: Usage


class PlanService:
    def plan(self, settings: Settings, tier: str) -> Plan:
        return settings.plan(tier)

    def state(self, settings: Settings, tier: str, usage: Usage) -> PlanState:
        return PlanState(tier, settings.plan(tier), usage.month_counts.requests, usage.month)

    async def usage(
        self, session: AsyncSession, workspace_id: uuid.UUID, time_zone: str, now: datetime
    ) -> Usage:
        month, day = month_of(now, time_zone), day_of(now, time_zone)
        counts = await usage_repository.read(
            session, WorkspaceScope(workspace_id), month.start_date, day.start_date
        )
        return Usage(month, day, counts.get(MONTH, Counts()), counts.get(DAY, Counts()))

    def counter_target(
        self, plan: Plan, workspace_id: uuid.UUID, time_zone: str, now: datetime
    ) -> dict[str, Any]:
        """Where an insert that counts its own calls adds them (see `add_month_and_day_from`)."""
        return {
            "workspace_id": workspace_id,
            "month": month_of(now, time_zone).start_date,
            "day": day_of(now, time_zone).start_date,
            "request_limit": plan.monthly_requests,
        }

    def counted_usage(
        self, time_zone: str, now: datetime, counted: dict[str, tuple[int, int]]
    ) -> Usage | None:
        """The usage after an insert counted its calls; None when the month was not counted
        (the calls would have passed the quota)."""
        if MONTH not in counted or DAY not in counted:
            return None
        month_counts, day_counts = (Counts(*counted[p]) for p in (MONTH, DAY))
        return Usage(month_of(now, time_zone), day_of(now, time_zone), month_counts, day_counts)

    async def uncount(
        self,
        session: AsyncSession,
        workspace_id: uuid.UUID,
        time_zone: str,
        now: datetime,
        periods: Sequence[str],
        added_requests: int,
        added_cost_nano_usd: int,
    ) -> None:
        """Takes back what an insert counted, for the caller to count its calls one by one."""
        starts = {MONTH: month_of(now, time_zone), DAY: day_of(now, time_zone)}
        taken = Counts(-added_requests, -added_cost_nano_usd)
        for period in (MONTH, DAY):  # the lock order
            if period in periods:
                await usage_repository.add(
                    session, workspace_id, period, starts[period].start_date, taken
                )

    async def admit(
        self,
        session: AsyncSession,
        plan: Plan,
        *,
        workspace_id: uuid.UUID,
        time_zone: str,
        now: datetime,
        new_costs: Sequence[int],
        cost_delta: int,
    ) -> Admission:
        """Counts as many of the new calls as the monthly quota allows (all of them, and the
        cost delta of replaced rows) in this transaction; the caller drops the rest."""
        if not new_costs and not cost_delta:
            return Admission(0, await self.usage(session, workspace_id, time_zone, now))
        month, day = month_of(now, time_zone), day_of(now, time_zone)
        limit = plan.monthly_requests
        admitted = len(new_costs) if limit is None else min(len(new_costs), limit)
        counts = Counts(admitted, sum(new_costs[:admitted]) + cost_delta)
        both = await usage_repository.add_month_and_day(
            session, workspace_id, month.start_date, day.start_date, counts, request_limit=limit
        )
        day_counts = both[DAY]
        month_counts = both.get(MONTH)
        if month_counts is None:
            # Over the quota (rare): the month row exists; lock it, take exactly what is left,
            # and take back from the day what it was given for the calls now refused.
            used = await usage_repository.lock(session, workspace_id, MONTH, month.start_date)
            fits = max(0, min(len(new_costs), (limit or 0) - used.requests))
            kept = Counts(fits, sum(new_costs[:fits]) + cost_delta)
            month_counts = await usage_repository.add(
                session, workspace_id, MONTH, month.start_date, kept
            )
            taken_back = Counts(
                kept.requests - counts.requests, kept.cost_nano_usd - counts.cost_nano_usd
            )
            day_counts = await usage_repository.add(
                session, workspace_id, DAY, day.start_date, taken_back
            )
            admitted = fits
        return Admission(admitted, Usage(month, day, month_counts, day_counts))


plan_service = PlanService()

"""When and how the analytics service reads rollups instead of raw rows, and how rollups are
kept fresh.

A window is cut into whole UTC hours, read from the rollups, and the partial hours at its
edges (and around any other cut, such as the start of the current window in a comparison),
read from raw rows. Sums are exact either way; percentiles over rollups come from log-scale
latency histograms with 8 buckets per doubling, so a reported percentile is within ~4.5 %
of the exact one (half a bucket). Rollups live on PostgreSQL; the embedded SQLite mode always
reads raw rows.

Freshness: `refresh` recomputes every hour that holds a row written since the last pass
(`llm_requests.updated_at`, so a replaced error row recomputes its hour) or that deleted rows
left (`rollup_dirty_hours`). The worker runs it every few seconds; the current hour is always
read raw anyway."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from llmmeter.analytics.filters import Dimension, Filters
from llmmeter.analytics.rollup_repository import rollup_repository
from llmmeter.kit.dialect import is_postgresql
from llmmeter.kit.tenancy import Tenant

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
BUCKETS_PER_OCTAVE = 8
# Rows written this long before the last pass are looked at again (clock skew, slow commits).
SLACK = timedelta(minutes=2)
MIN_SPAN = timedelta(hours=6)
ROLLED_DIMENSIONS = {
    Dimension.endpoint_tag,
    Dimension.prompt_version,
    Dimension.model,
    Dimension.provider,
    Dimension.environment,
    Dimension.user,
}
Ranges = tuple[tuple[datetime, datetime], ...]


def floor_hour(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def bucket_of(latency_ms: int) -> int:
    return math.floor(BUCKETS_PER_OCTAVE * math.log2(latency_ms + 1))


def bucket_value(bucket: int) -> float:
    """The geometric middle of a bucket: at most half a bucket (~4.4 %) from any value in it."""
    return 2 ** ((bucket + 0.5) / BUCKETS_PER_OCTAVE) - 1


def percentile(histogram: dict[int, int], q: float) -> int | None:
    """Nearest rank over a histogram, reported as the bucket's middle."""
    n = sum(histogram.values())
    if not n:
        return None
    rank = max(1, math.ceil(q * n))
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return round(bucket_value(bucket))
    return None  # unreachable


def _join(ranges: list[tuple[datetime, datetime]]) -> Ranges:
    joined: list[tuple[datetime, datetime]] = []
    for a, b in ranges:
        if joined and joined[-1][1] == a:
            joined[-1] = (joined[-1][0], b)
        else:
            joined.append((a, b))
    return tuple(joined)


@dataclass(frozen=True, slots=True)
class Plan:
    raw: Ranges  # partial hours: read from llm_requests
    rolled: Ranges  # whole hours: read from the rollups

    def days_and_hours(self) -> tuple[Ranges, Ranges]:
        """The rolled ranges as whole UTC days (daily histograms) and the hours left over."""
        days: list[tuple[datetime, datetime]] = []
        hours: list[tuple[datetime, datetime]] = []
        for a, b in self.rolled:
            day = a.replace(hour=0) + (DAY if a.hour else timedelta(0))
            if day + DAY > b:
                hours.append((a, b))
                continue
            if a < day:
                hours.append((a, day))
            end = b.replace(hour=0)
            days.append((day, end))
            if end < b:
                hours.append((end, b))
        return _join(days), _join(sorted(hours))


def plan(
    start: datetime,
    end: datetime,
    cuts: Sequence[datetime],
    pending: set[datetime] | frozenset[datetime] = frozenset(),
) -> Plan:
    """Whole hours of [start, end) go to the rollups, except hours holding a cut point and
    hours whose rollups may lag (`pending`)."""
    split = {floor_hour(c) for c in (start, end, *cuts) if c != floor_hour(c)} | set(pending)
    raw: list[tuple[datetime, datetime]] = []
    rolled: list[tuple[datetime, datetime]] = []
    hour = floor_hour(start)
    while hour < end:
        nxt = hour + HOUR
        piece = (max(hour, start), min(nxt, end))
        (raw if hour in split else rolled).append(piece)
        hour = nxt
    return Plan(_join(raw), _join(rolled))


def usable(dialect: str, f: Filters, dimension: Dimension | None = None) -> bool:
    """Whether rollups can answer this question exactly (sums) at all."""
    if dialect != "postgresql" or f.span < MIN_SPAN or f.metadata:
        return False
    labels = any((f.endpoint_tag, f.prompt_version, f.model, f.provider))
    if f.user is not None and (labels or dimension not in (None, Dimension.user)):
        return False  # users are rolled up apart from the other labels
    if dimension is Dimension.user and labels:
        return False
    return dimension is None or dimension in ROLLED_DIMENSIONS


def histogram_usable(f: Filters) -> bool:
    """The latency histograms do not split by provider or user."""
    return f.provider is None and f.user is None


async def fresh_plan(
    session: AsyncSession,
    tenant: Tenant,
    start: datetime,
    end: datetime,
    cuts: Sequence[datetime] = (),
) -> Plan | None:
    """A plan whose rolled hours are known complete: hours with rows written since the last
    refresh (or deleted rows) are read raw. None before the first refresh."""
    watermark = await rollup_repository.read_watermark(session)
    if watermark is None:
        return None
    pending = await rollup_repository.pending_hours(session, tenant, watermark - SLACK, start, end)
    return plan(start, end, cuts, pending)


class RollupService:
    async def refresh(self, sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> int:
        """Recomputes the hours changed since the last pass; returns how many. The watermark
        row is locked for the pass, so concurrent workers take turns."""
        async with sessionmaker() as session, session.begin():
            if not is_postgresql(session):
                return 0
            since = await rollup_repository.watermark(session)
            start = (since or datetime(2000, 1, 1, tzinfo=UTC)) - SLACK
            changed = await rollup_repository.changed_hours(session, start)
            by_workspace: dict[uuid.UUID, set[datetime]] = defaultdict(set)
            for workspace_id, hour in changed:
                by_workspace[workspace_id].add(hour)
            for workspace_id, hours in by_workspace.items():
                await self._rebuild(session, workspace_id, sorted(hours))
            await rollup_repository.set_watermark(session, now)
        return sum(len(h) for h in by_workspace.values())

    async def _rebuild(
        self, session: AsyncSession, workspace_id: uuid.UUID, hours: list[datetime]
    ) -> None:
        days = sorted({h.replace(hour=0) for h in hours})
        await rollup_repository.rebuild(
            session,
            workspace_id,
            hours,
            days,
            (hours[0], hours[-1] + HOUR),
            (days[0], days[-1] + DAY),
        )
        await rollup_repository.clear_dirty(session, workspace_id, hours)


rollup_service = RollupService()

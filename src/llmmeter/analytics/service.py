"""The one analytics query service: every dashboard number, chart and table comes from here,
so that rollups can replace raw scans (issue "Performance") without touching a page."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from llmmeter.analytics import rollups, sources
from llmmeter.analytics.filters import Dimension, Filters, SortKey, bucket_seconds
from llmmeter.analytics.repository import analytics_repository
from llmmeter.analytics.rollup_repository import rollup_repository
from llmmeter.kit.dialect import is_postgresql
from llmmeter.kit.errors import NotFound
from llmmeter.kit.tenancy import Tenant
from llmmeter.models import LLMRequest

NANO = 1_000_000_000
STACK_GROUPS = 6
EXPORT_PAGE = 1000


def usd(nano: int | None) -> float:
    return (nano or 0) / NANO


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class Overview:
    requests: int
    errors: int
    cost_usd: float
    input_tokens: int
    output_tokens: int
    total_tokens: int
    unknown_model_rows: int
    rate_limited: int  # rows whose errorCode says the provider answered 429
    avg_latency_ms: float | None
    p50_ms: int | None
    p95_ms: int | None
    p99_ms: int | None
    approximate: bool = False  # percentiles from rollup histograms (within ~4.5 %)

    @property
    def error_rate(self) -> float | None:
        return _ratio(self.errors, self.requests)


def _stacks(rows: list[tuple[int, str, int]], index: dict[int, int]) -> dict[str, list[float]]:
    """Spend per bucket for the top groups (by spend over the window), the rest as `other`."""
    totals: dict[str, int] = {}
    for _, group, nano in rows:
        totals[group] = totals.get(group, 0) + nano
    ranked = sorted(totals, key=lambda g: (-totals[g], g))
    top = set(ranked[: STACK_GROUPS - 1] if len(ranked) > STACK_GROUPS else ranked)
    names = [g for g in ranked if g in top] + (["other"] if len(ranked) > len(top) else [])
    stacks = {name: [0.0] * len(index) for name in names}
    for bucket, group, nano in rows:
        i = index.get(bucket)
        if i is not None:
            stacks[group if group in top else "other"][i] += usd(nano)
    return stacks


@dataclass(frozen=True, slots=True)
class Series:
    """Aligned arrays for uPlot: `times` in epoch seconds, one value per bucket."""

    step: int
    times: list[int]
    requests: list[int]
    errors: list[int]
    cost_usd: list[float]
    stacked_by: str
    stacks: dict[str, list[float]]
    p50: list[int | None]
    p95: list[int | None]
    p99: list[int | None]


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    value: str
    requests: int
    errors: int
    cost_usd: float
    tokens: int
    avg_tokens: float | None
    avg_latency_ms: float | None
    last_seen: datetime | None
    prev_requests: int
    prev_cost_usd: float
    prev_tokens: int

    @property
    def error_rate(self) -> float | None:
        return _ratio(self.errors, self.requests)

    @property
    def cost_per_request(self) -> float | None:
        return _ratio(self.cost_usd, self.requests)

    @property
    def prev_cost_per_request(self) -> float | None:
        return _ratio(self.prev_cost_usd, self.prev_requests)

    @property
    def tokens_per_request(self) -> float | None:
        return _ratio(self.tokens, self.requests)

    @property
    def prev_tokens_per_request(self) -> float | None:
        return _ratio(self.prev_tokens, self.prev_requests)

    @property
    def cost_delta_usd(self) -> float:
        return self.cost_usd - self.prev_cost_usd


@dataclass(frozen=True, slots=True)
class Mover:
    dimension: Dimension
    row: BreakdownRow


@dataclass(frozen=True, slots=True)
class Page:
    rows: Sequence[LLMRequest]
    next_cursor: str | None


def encode_cursor(row: LLMRequest) -> str:
    raw = f"{row.created_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, request_id = raw.partition("|")
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when, uuid.UUID(request_id)
    except ValueError:
        return None  # a mangled cursor starts from the top rather than failing


def _breakdown_row(row: dict[str, Any]) -> BreakdownRow:
    return BreakdownRow(
        value=str(row["value"]),
        requests=int(row["requests"]),
        errors=int(row["errors"]),
        cost_usd=usd(int(row["cost_nano_usd"])),
        tokens=int(row["tokens"]),
        avg_tokens=None if row["avg_tokens"] is None else float(row["avg_tokens"]),
        avg_latency_ms=None if row["avg_latency"] is None else float(row["avg_latency"]),
        last_seen=row["last_seen"],
        prev_requests=int(row["prev_requests"]),
        prev_cost_usd=usd(int(row["prev_cost_nano_usd"])),
        prev_tokens=int(row["prev_tokens"]),
    )


class AnalyticsService:
    async def overview(self, session: AsyncSession, tenant: Tenant, f: Filters) -> Overview:
        t = await sources.totals(session, tenant, f)
        latency_count = int(t["latency_count"] or 0)
        return Overview(
            requests=int(t["requests"]),
            errors=int(t["errors"]),
            cost_usd=usd(int(t["cost_nano_usd"])),
            input_tokens=int(t["input_tokens"]),
            output_tokens=int(t["output_tokens"]),
            total_tokens=int(t["total_tokens"]),
            unknown_model_rows=int(t["unknown_model_rows"]),
            rate_limited=int(t["rate_limited"]),
            avg_latency_ms=int(t["latency_sum"]) / latency_count if latency_count else None,
            p50_ms=t["p50"],
            p95_ms=t["p95"],
            p99_ms=t["p99"],
            approximate=bool(t["approximate"]),
        )

    async def series(
        self, session: AsyncSession, tenant: Tenant, f: Filters, stack_by: Dimension
    ) -> Series:
        step = bucket_seconds(f.span)
        first = int(f.start.timestamp()) // step * step
        times = list(range(first, int(f.end.timestamp()), step))
        index = {t: i for i, t in enumerate(times)}
        n = len(times)
        requests, errors, cost = [0] * n, [0] * n, [0.0] * n
        sums, stack_rows, histograms = await sources.series(session, tenant, f, step, stack_by)
        for bucket, row in sums.items():
            i = index.get(bucket)
            if i is not None:
                requests[i], errors[i] = int(row["requests"]), int(row["errors"])
                cost[i] = usd(int(row["cost_nano_usd"]))
        stacks = _stacks(stack_rows, index)
        p50: list[int | None] = [None] * n
        p95: list[int | None] = [None] * n
        p99: list[int | None] = [None] * n
        if histograms is None:
            latency = await analytics_repository.latency_by_bucket(session, tenant, f, step)
        else:
            latency = {
                t: (
                    rollups.percentile(h, 0.5),
                    rollups.percentile(h, 0.95),
                    rollups.percentile(h, 0.99),
                )
                for t, h in histograms.items()
            }
        for bucket, (a, b, c) in latency.items():
            i = index.get(bucket)
            if i is not None:
                p50[i], p95[i], p99[i] = a, b, c
        return Series(step, times, requests, errors, cost, stack_by.value, stacks, p50, p95, p99)

    async def breakdown(
        self,
        session: AsyncSession,
        tenant: Tenant,
        f: Filters,
        dimension: Dimension,
        *,
        meta_key: str | None = None,
        sort: SortKey = SortKey.cost,
        descending: bool = True,
        limit: int = 100,
    ) -> list[BreakdownRow]:
        if dimension is Dimension.metadata and not meta_key:
            return []
        rows = await sources.breakdown(
            session, tenant, f, dimension, meta_key, sort, descending, limit
        )
        return [_breakdown_row(r) for r in rows]

    async def movers(
        self, session: AsyncSession, tenant: Tenant, f: Filters, limit: int = 10
    ) -> list[Mover]:
        """Investigate a spike: the values whose spend moved most against the previous window."""
        found: list[Mover] = []
        for dimension in (
            Dimension.endpoint_tag,
            Dimension.model,
            Dimension.prompt_version,
            Dimension.user,
        ):
            rows = await self.breakdown(session, tenant, f, dimension, limit=1000)
            found += [Mover(dimension, r) for r in rows if r.cost_delta_usd or r.requests]
        found.sort(key=lambda m: (-abs(m.row.cost_delta_usd), -m.row.requests, m.row.value))
        return found[:limit]

    async def metadata_keys(self, session: AsyncSession, tenant: Tenant, f: Filters) -> list[str]:
        return await analytics_repository.metadata_keys(session, tenant, f)

    async def page(
        self,
        session: AsyncSession,
        tenant: Tenant,
        f: Filters,
        cursor: str | None,
        limit: int = 50,
    ) -> Page:
        rows = await analytics_repository.page(session, tenant, f, decode_cursor(cursor), limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, encode_cursor(rows[-1]) if more and rows else None)

    async def request(
        self, session: AsyncSession, tenant: Tenant, request_id: uuid.UUID
    ) -> LLMRequest:
        row = await analytics_repository.get(session, tenant, request_id)
        if row is None:
            raise NotFound("No such request.")
        return row

    async def stream(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        tenant: Tenant,
        f: Filters,
    ) -> AsyncIterator[LLMRequest]:
        """All matching rows, newest first, page by page in short read transactions (a
        response body streams after the request's own session has closed)."""
        after: tuple[datetime, uuid.UUID] | None = None
        while True:
            async with sessionmaker() as session:
                rows = await analytics_repository.page(session, tenant, f, after, EXPORT_PAGE)
            for row in rows:
                yield row
            if len(rows) < EXPORT_PAGE:
                return
            after = (rows[-1].created_at, rows[-1].id)

    async def delete_test_data(
        self,
        session: AsyncSession,
        tenant: Tenant,
        api_key_ids: Sequence[uuid.UUID] | None,
    ) -> int:
        """Deletes `test` and `demo` rows: the workspace's, or those sent with `api_key_ids`.
        Usage counters are left alone: the quota counts what was ingested."""
        if is_postgresql(session):
            # Deleted rows leave no updated_at behind: note their hours for the rollups.
            hours = await rollup_repository.hours_of_modes(
                session, tenant, ("test", "demo"), api_key_ids
            )
            await rollup_repository.mark_dirty(session, tenant, hours)
        return await analytics_repository.delete_modes(
            session, tenant, ("test", "demo"), api_key_ids
        )


analytics_service = AnalyticsService()

"""Rollup statements (PostgreSQL only): recomputing whole UTC hours from raw rows, and reading
sums and latency histograms back for the analytics service."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, false, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.analytics.filters import Dimension, Filters
from llmmeter.analytics.repository import RATE_LIMIT_MARKERS
from llmmeter.kit.tenancy import Tenant, tenant_scope
from llmmeter.models import (
    LLMRequest,
    RollupDirtyHour,
    RollupLatency,
    RollupState,
    RollupSum,
    RollupUserSum,
)

H = RollupSum
U = RollupUserSum
L = RollupLatency
ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"
BUCKET = "floor(8 * ln(latency_ms + 1) / ln(2))::smallint"
SUMS = (
    "count(*), count(*) FILTER (WHERE status = 'error'),"
    " count(*) FILTER (WHERE {rate_limited}),"
    " count(*) FILTER (WHERE pricing_status = 'unknown'),"
    " sum(input_tokens), sum(output_tokens), sum(total_tokens), sum(cost_nano_usd),"
    " count(latency_ms), coalesce(sum(latency_ms), 0), max(created_at)"
)
SUM_COLUMNS = (
    "requests, errors, rate_limited, unknown_model_rows, input_tokens, output_tokens,"
    " total_tokens, cost_nano_usd, latency_count, latency_sum, last_seen"
)
RATE_LIMITED_SQL = " OR ".join(f"lower(error_code) LIKE '%{m}%'" for m in RATE_LIMIT_MARKERS)
HOUR = f"date_bin('1 hour', created_at, {ORIGIN})"
IN_HOURS = f"workspace_id = :ws AND created_at >= :lo AND created_at < :hi AND {HOUR} = ANY(:hours)"

SUM_TOTALS = ", ".join(f"sum({c})" for c in SUM_COLUMNS.replace(" ", "").split(",")[:-1])
DAY = f"date_bin('1 day', period_start, {ORIGIN})"
IN_DAYS = (
    "workspace_id = :ws AND granularity = 'hour' AND period_start >= :day_lo"
    f" AND period_start < :day_hi AND {DAY} = ANY(:days)"
)


def _sums_rebuild(table: str, labels: str, raw_labels: str) -> list[Any]:
    """Hour rows of the dirty hours from raw rows, then day rows of their days from hours."""
    n = len(labels.split(","))
    keys = ", ".join(str(i) for i in range(1, n + 4))
    return [
        text(
            f"DELETE FROM {table} WHERE workspace_id = :ws AND granularity = 'hour'"
            " AND period_start = ANY(:hours)"
        ),
        text(
            f"INSERT INTO {table} (workspace_id, granularity, period_start, {labels},"
            f" {SUM_COLUMNS}) SELECT workspace_id, 'hour', {HOUR}, {raw_labels},"
            f" {SUMS.format(rate_limited=RATE_LIMITED_SQL)}"
            f" FROM llm_requests WHERE {IN_HOURS} GROUP BY {keys}"
        ),
        text(
            f"DELETE FROM {table} WHERE workspace_id = :ws AND granularity = 'day'"
            " AND period_start = ANY(:days)"
        ),
        text(
            f"INSERT INTO {table} (workspace_id, granularity, period_start, {labels},"
            f" {SUM_COLUMNS}) SELECT workspace_id, 'day', {DAY}, {labels}, {SUM_TOTALS},"
            f" max(last_seen) FROM {table} WHERE {IN_DAYS} GROUP BY {keys}"
        ),
    ]


REBUILD = [
    *_sums_rebuild(
        "rollup_sums",
        "endpoint_tag, prompt_version, provider, model, status, data_mode, environment",
        "endpoint_tag, prompt_version, provider, model, status, data_mode, environment",
    ),
    *_sums_rebuild(
        "rollup_user_sums",
        "user_key, data_mode, environment",
        "coalesce(metadata->>'_user', 'unknown'), data_mode, environment",
    ),
    text(
        "DELETE FROM rollup_latencies WHERE workspace_id = :ws AND granularity = 'hour'"
        " AND period_start = ANY(:hours)"
    ),
    text(
        "INSERT INTO rollup_latencies (workspace_id, level, granularity, period_start,"
        " endpoint_tag, prompt_version, model, data_mode, environment, bucket, count)"
        f" SELECT workspace_id, 'full', 'hour', {HOUR}, endpoint_tag, prompt_version, model,"
        f" data_mode, environment, {BUCKET}, count(*)"
        f" FROM llm_requests WHERE {IN_HOURS} AND latency_ms IS NOT NULL"
        " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
    ),
    *(
        text(
            "INSERT INTO rollup_latencies (workspace_id, level, granularity, period_start,"
            " endpoint_tag, prompt_version, model, data_mode, environment, bucket, count)"
            f" SELECT workspace_id, '{level}', 'hour', period_start, {tag}, '', '', data_mode,"
            " environment, bucket, sum(count) FROM rollup_latencies"
            " WHERE workspace_id = :ws AND level = 'full' AND granularity = 'hour'"
            " AND period_start = ANY(:hours) GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
        )
        for level, tag in (("tag", "endpoint_tag"), ("all", "''"))
    ),
    text(
        "DELETE FROM rollup_latencies WHERE workspace_id = :ws AND granularity = 'day'"
        " AND period_start = ANY(:days)"
    ),
    text(
        "INSERT INTO rollup_latencies (workspace_id, level, granularity, period_start,"
        " endpoint_tag, prompt_version, model, data_mode, environment, bucket, count)"
        f" SELECT workspace_id, level, 'day', {DAY}, endpoint_tag,"
        " prompt_version, model, data_mode, environment, bucket, sum(count)"
        f" FROM rollup_latencies WHERE {IN_DAYS}"
        " GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10"
    ),
]

CHANGED_HOURS = text(
    f"SELECT DISTINCT workspace_id, {HOUR} AS hour FROM llm_requests WHERE updated_at > :since"
)


Ranges = Sequence[tuple[datetime, datetime]]


def _ranges(column: Any, ranges: Ranges) -> ColumnElement[bool]:
    return or_(false(), *(and_(column >= a, column < b) for a, b in ranges))


def _periods(
    model: Any,
    tenant: Tenant,
    days: Ranges,
    hours: Ranges,
    *also: ColumnElement[bool],
) -> ColumnElement[bool]:
    """One arm per range, each with the whole index prefix (workspace, granularity, start),
    so that PostgreSQL reads them as a union of index ranges instead of all the rows."""
    scope = tenant_scope(model.workspace_id, tenant)
    return or_(
        false(),
        *(
            and_(
                scope,
                *also,
                model.granularity == granularity,
                model.period_start >= a,
                model.period_start < b,
            )
            for granularity, ranges in (("day", days), ("hour", hours))
            for a, b in ranges
        ),
    )


def _epoch_step(column: Any, step: int) -> Any:
    return func.floor(func.extract("epoch", column) / step) * step


def _where(
    model: Any, tenant: Tenant, f: Filters, days: Ranges, hours: Ranges, *also: ColumnElement[bool]
) -> list[ColumnElement[bool]]:
    return [_periods(model, tenant, days, hours, *also), *label_filters(model, f)]


def label_filters(model: Any, f: Filters) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    for name, value in (
        ("data_mode", f.data_mode),
        ("environment", f.environment),
        ("endpoint_tag", f.endpoint_tag),
        ("prompt_version", f.prompt_version),
        ("model", f.model),
        ("provider", f.provider),
    ):
        if value is not None:
            clauses.append(getattr(model, name) == value)
    if f.user is not None:
        clauses.append(model.user_key == f.user)
    return clauses


def histogram_level(f: Filters) -> str:
    if f.prompt_version is not None or f.model is not None:
        return "full"
    return "tag" if f.endpoint_tag is not None else "all"


def sums_of(model: Any) -> list[ColumnElement[Any]]:
    return [
        func.coalesce(func.sum(getattr(model, c)), 0).label(c)
        for c in (
            "requests",
            "errors",
            "rate_limited",
            "unknown_model_rows",
            "input_tokens",
            "output_tokens",
            "total_tokens",
            "cost_nano_usd",
            "latency_count",
            "latency_sum",
        )
    ]


class RollupRepository:
    # --- refresh ---------------------------------------------------------------------------
    async def watermark(self, session: AsyncSession) -> datetime | None:
        state = await session.get(RollupState, "llm_requests", with_for_update=True)
        return None if state is None else state.watermark

    async def read_watermark(self, session: AsyncSession) -> datetime | None:
        stmt = select(RollupState.watermark).where(RollupState.name == "llm_requests")
        return (await session.scalars(stmt)).first()

    async def pending_hours(
        self, session: AsyncSession, tenant: Tenant, since: datetime, start: datetime, end: datetime
    ) -> set[datetime]:
        """Hours of [start, end) whose rollups may lag: rows written after `since`, or rows
        deleted and not yet recomputed. Those hours are read raw."""
        hour = func.date_bin(text("interval '1 hour'"), LLMRequest.created_at, text(ORIGIN))
        changed = (
            select(hour)
            .where(
                LLMRequest.updated_at > since,
                tenant_scope(LLMRequest.workspace_id, tenant),
                LLMRequest.created_at >= start,
                LLMRequest.created_at < end,
            )
            .distinct()
        )
        dirty = select(RollupDirtyHour.hour_start).where(
            tenant_scope(RollupDirtyHour.workspace_id, tenant)
        )
        return set(await session.scalars(changed)) | set(await session.scalars(dirty))

    async def set_watermark(self, session: AsyncSession, at: datetime) -> None:
        await session.merge(RollupState(name="llm_requests", watermark=at))
        await session.flush()

    async def changed_hours(
        self, session: AsyncSession, since: datetime
    ) -> list[tuple[uuid.UUID, datetime]]:
        rows = await session.execute(CHANGED_HOURS, {"since": since})
        dirty = await session.execute(
            select(RollupDirtyHour.workspace_id, RollupDirtyHour.hour_start)
        )
        return [(w, h) for w, h in rows] + [(w, h) for w, h in dirty]

    async def mark_dirty(
        self, session: AsyncSession, tenant: Tenant, hours: Sequence[datetime]
    ) -> None:
        ws = next(iter(tenant.workspace_ids))
        for hour in set(hours):
            await session.merge(RollupDirtyHour(workspace_id=ws, hour_start=hour))
        await session.flush()

    async def hours_of_modes(
        self,
        session: AsyncSession,
        tenant: Tenant,
        modes: Sequence[str],
        api_key_ids: Sequence[uuid.UUID] | None,
    ) -> list[datetime]:
        """The hours holding rows about to be deleted (data hygiene), to mark them dirty."""
        hour = func.date_bin(text("interval '1 hour'"), LLMRequest.created_at, text(ORIGIN))
        stmt = select(hour).where(
            tenant_scope(LLMRequest.workspace_id, tenant), LLMRequest.data_mode.in_(modes)
        )
        if api_key_ids is not None:
            stmt = stmt.where(LLMRequest.api_key_id.in_(api_key_ids) if api_key_ids else false())
        return list((await session.scalars(stmt.distinct())).all())

    async def clear_dirty(
        self, session: AsyncSession, workspace_id: uuid.UUID, hours: Sequence[datetime]
    ) -> None:
        await session.execute(
            delete(RollupDirtyHour).where(
                RollupDirtyHour.workspace_id == workspace_id,
                RollupDirtyHour.hour_start.in_(list(hours)),
            )
        )

    async def rebuild(
        self,
        session: AsyncSession,
        workspace_id: uuid.UUID,
        hours: Sequence[datetime],
        days: Sequence[datetime],
        bounds: tuple[datetime, datetime],
        day_bounds: tuple[datetime, datetime],
    ) -> None:
        params = {
            "ws": workspace_id,
            "hours": list(hours),
            "lo": bounds[0],
            "hi": bounds[1],
            "days": list(days),
            "day_lo": day_bounds[0],
            "day_hi": day_bounds[1],
        }
        for stmt in REBUILD:
            await session.execute(stmt, params)

    # --- reads -----------------------------------------------------------------------------
    # `days` and `hours`: whole UTC days read from day rows, the other whole hours from hour
    # rows (see Plan.days_and_hours).
    async def totals(
        self,
        session: AsyncSession,
        tenant: Tenant,
        f: Filters,
        days: Ranges,
        hours: Ranges,
        by_user: bool,
    ) -> dict[str, Any]:
        model = U if by_user else H
        stmt = select(*sums_of(model)).where(*_where(model, tenant, f, days, hours))
        return dict((await session.execute(stmt)).one()._mapping)

    async def series(
        self,
        session: AsyncSession,
        tenant: Tenant,
        f: Filters,
        days: Ranges,
        hours: Ranges,
        step: int,
        by_user: bool,
        group: Dimension | None = None,
    ) -> Sequence[Any]:
        model: Any = U if by_user else H
        bucket = _epoch_step(model.period_start, step).label("bucket")
        keys: list[Any] = [bucket]
        if group is not None:
            keys.append(getattr(model, group.value).label("grp"))
        stmt = (
            select(*keys, *sums_of(model))
            .where(*_where(model, tenant, f, days, hours))
            .group_by(*keys)
        )
        return (await session.execute(stmt)).all()

    async def breakdown(
        self,
        session: AsyncSession,
        tenant: Tenant,
        f: Filters,
        days: Ranges,
        hours: Ranges,
        dimension: Dimension,
    ) -> Sequence[Any]:
        """Sums per value, split at f.start into this window and the one before (no day or
        hour read here straddles f.start)."""
        by_user = dimension is Dimension.user
        model: Any = U if by_user else H
        value = (U.user_key if by_user else getattr(H, dimension.value)).label("value")
        current = model.period_start >= f.start
        cols = {
            "requests": func.coalesce(func.sum(model.requests).filter(current), 0),
            "errors": func.coalesce(func.sum(model.errors).filter(current), 0),
            "cost_nano_usd": func.coalesce(func.sum(model.cost_nano_usd).filter(current), 0),
            "tokens": func.coalesce(func.sum(model.total_tokens).filter(current), 0),
            "latency_count": func.coalesce(func.sum(model.latency_count).filter(current), 0),
            "latency_sum": func.coalesce(func.sum(model.latency_sum).filter(current), 0),
            "last_seen": func.max(model.last_seen).filter(current),
            "prev_requests": func.coalesce(func.sum(model.requests).filter(~current), 0),
            "prev_cost_nano_usd": func.coalesce(func.sum(model.cost_nano_usd).filter(~current), 0),
            "prev_tokens": func.coalesce(func.sum(model.total_tokens).filter(~current), 0),
        }
        stmt = (
            select(value, *(c.label(n) for n, c in cols.items()))
            .where(*_where(model, tenant, f, days, hours))
            .group_by(value)
        )
        return (await session.execute(stmt)).all()

    async def histogram(
        self,
        session: AsyncSession,
        tenant: Tenant,
        f: Filters,
        days: Ranges,
        hours: Ranges,
        step: int | None = None,
    ) -> Sequence[Any]:
        """(time bucket if `step`, latency bucket, count), from the coarsest level of detail
        that still answers the filters."""
        keys: list[Any] = []
        if step is not None:
            keys.append(_epoch_step(L.period_start, step).label("at"))
        keys.append(L.bucket)
        level = L.level == histogram_level(f)
        stmt = (
            select(*keys, func.sum(L.count).label("n"))
            .where(*_where(L, tenant, f, days, hours, level))
            .group_by(*keys)
        )
        return (await session.execute(stmt)).all()


rollup_repository = RollupRepository()

"""Every analytics statement over the raw `llm_requests` table. Percentiles are nearest-rank
(PostgreSQL's percentile_disc); SQLite has no such aggregate, so there they are read by
ordered offset or computed from the fetched latencies, with the same definition."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    cast,
    delete,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.analytics.filters import Dimension, Filters, SortKey
from llmmeter.kit.dialect import is_sqlite
from llmmeter.kit.tenancy import Tenant, tenant_scope
from llmmeter.models import LLMRequest

R = LLMRequest
QUANTILES = (0.5, 0.95, 0.99)


def _meta(key: str) -> ColumnElement[str]:
    value: ColumnElement[str] = R.request_metadata[key].as_string()
    return value


def dimension_expr(dimension: Dimension, meta_key: str | None = None) -> ColumnElement[str]:
    match dimension:
        case Dimension.user:
            return func.coalesce(_meta("_user"), "unknown")
        case Dimension.tenant:
            return func.coalesce(R.tenant_id, "unknown")
        case Dimension.metadata:
            return func.coalesce(_meta(meta_key or ""), "(none)")
        case _:
            column: ColumnElement[str] = getattr(R, dimension.value).expression
            return column


def where(tenant: Tenant, f: Filters, *, window: bool = True) -> list[ColumnElement[bool]]:
    clauses = [tenant_scope(R.workspace_id, tenant)]
    if window and f.ranges is not None:
        clauses.append(
            or_(false(), *(and_(R.created_at >= a, R.created_at < b) for a, b in f.ranges))
        )
    elif window:
        clauses += [R.created_at >= f.start, R.created_at < f.end]
    for column, value in (
        (R.data_mode, f.data_mode),
        (R.environment, f.environment),
        (R.endpoint_tag, f.endpoint_tag),
        (R.prompt_version, f.prompt_version),
        (R.model, f.model),
        (R.provider, f.provider),
    ):
        if value is not None:
            clauses.append(column == value)
    if f.user is not None:
        clauses.append(dimension_expr(Dimension.user) == f.user)
    clauses.extend(_meta(key) == value for key, value in f.metadata)
    return clauses


# errorCode values that mean the provider answered 429 (rate limited / throttled).
RATE_LIMIT_MARKERS = (
    "429",
    "rate_limit",
    "ratelimit",
    "rate-limit",
    "rate limit",
    "too_many_requests",
    "throttl",
)


def is_rate_limited() -> ColumnElement[bool]:
    code = func.lower(R.error_code)
    return or_(*(code.contains(marker) for marker in RATE_LIMIT_MARKERS))


def _epoch_bucket(session: AsyncSession, step: int) -> ColumnElement[int]:
    if is_sqlite(session):
        seconds: ColumnElement[int] = cast(func.strftime("%s", R.created_at), Integer)
        return cast(seconds / step, Integer) * step
    seconds_pg: ColumnElement[int] = cast(
        func.floor(func.extract("epoch", R.created_at) / step), Integer
    )
    return seconds_pg * step


def nearest_rank(sorted_values: Sequence[int], q: float) -> int | None:
    if not sorted_values:
        return None
    return sorted_values[max(1, math.ceil(q * len(sorted_values))) - 1]


class AnalyticsRepository:
    async def totals(self, session: AsyncSession, tenant: Tenant, f: Filters) -> dict[str, Any]:
        is_error = R.status == "error"
        stmt = select(
            func.count().label("requests"),
            func.count().filter(is_error).label("errors"),
            func.coalesce(func.sum(R.cost_nano_usd), 0).label("cost_nano_usd"),
            func.coalesce(func.sum(R.input_tokens), 0).label("input_tokens"),
            func.coalesce(func.sum(R.output_tokens), 0).label("output_tokens"),
            func.coalesce(func.sum(R.total_tokens), 0).label("total_tokens"),
            func.count().filter(R.pricing_status == "unknown").label("unknown_model_rows"),
            func.count().filter(is_rate_limited()).label("rate_limited"),
            func.count(R.latency_ms).label("latency_count"),
            func.coalesce(func.sum(R.latency_ms), 0).label("latency_sum"),
        ).where(*where(tenant, f))
        return dict((await session.execute(stmt)).one()._mapping)

    async def latency_histogram(
        self, session: AsyncSession, tenant: Tenant, f: Filters, step: int | None = None
    ) -> Sequence[Any]:
        """(time bucket if `step`, latency bucket, count), PostgreSQL only: the raw edges of a
        window read mostly from rollups, in the rollups' histogram buckets."""
        bucket = cast(func.floor(8 * func.ln(R.latency_ms + 1) / func.ln(2)), Integer).label(
            "bucket"
        )
        keys: list[Any] = []
        if step is not None:
            keys.append(_epoch_bucket(session, step).label("at"))
        keys.append(bucket)
        stmt = (
            select(*keys, func.count().label("n"))
            .where(*where(tenant, f), R.latency_ms.is_not(None))
            .group_by(*keys)
        )
        return (await session.execute(stmt)).all()

    async def percentiles(
        self, session: AsyncSession, tenant: Tenant, f: Filters
    ) -> dict[str, int | None]:
        has_latency = [*where(tenant, f), R.latency_ms.is_not(None)]
        names = ("p50", "p95", "p99")
        if not is_sqlite(session):
            stmt = select(
                *(
                    func.percentile_disc(q).within_group(R.latency_ms).label(name)
                    for q, name in zip(QUANTILES, names, strict=True)
                )
            ).where(*has_latency)
            return dict((await session.execute(stmt)).one()._mapping)
        n = int(await session.scalar(select(func.count()).where(*has_latency)) or 0)
        out: dict[str, int | None] = {}
        for q, name in zip(QUANTILES, names, strict=True):
            offset = max(1, math.ceil(q * n)) - 1
            stmt_s = select(R.latency_ms).where(*has_latency).order_by(R.latency_ms).offset(offset)
            out[name] = (await session.scalars(stmt_s.limit(1))).first() if n else None
        return out

    async def series(
        self, session: AsyncSession, tenant: Tenant, f: Filters, step: int
    ) -> Sequence[Any]:
        bucket = _epoch_bucket(session, step).label("bucket")
        stmt = (
            select(
                bucket,
                func.count().label("requests"),
                func.count().filter(R.status == "error").label("errors"),
                func.coalesce(func.sum(R.cost_nano_usd), 0).label("cost_nano_usd"),
                func.coalesce(func.sum(R.total_tokens), 0).label("total_tokens"),
            )
            .where(*where(tenant, f))
            .group_by(bucket)
            .order_by(bucket)
        )
        return (await session.execute(stmt)).all()

    async def cost_by_bucket_and_group(
        self, session: AsyncSession, tenant: Tenant, f: Filters, step: int, group: Dimension
    ) -> Sequence[Any]:
        bucket = _epoch_bucket(session, step).label("bucket")
        key = dimension_expr(group).label("grp")
        stmt = (
            select(bucket, key, func.sum(R.cost_nano_usd).label("cost_nano_usd"))
            .where(*where(tenant, f))
            .group_by(bucket, key)
        )
        return (await session.execute(stmt)).all()

    async def latency_by_bucket(
        self, session: AsyncSession, tenant: Tenant, f: Filters, step: int
    ) -> dict[int, tuple[int | None, int | None, int | None]]:
        bucket = _epoch_bucket(session, step).label("bucket")
        has_latency = [*where(tenant, f), R.latency_ms.is_not(None)]
        if not is_sqlite(session):
            stmt = (
                select(
                    bucket,
                    *(func.percentile_disc(q).within_group(R.latency_ms) for q in QUANTILES),
                )
                .where(*has_latency)
                .group_by(bucket)
            )
            return {int(b): (p50, p95, p99) for b, p50, p95, p99 in await session.execute(stmt)}
        rows = await session.execute(
            select(bucket, R.latency_ms).where(*has_latency).order_by(bucket, R.latency_ms)
        )
        grouped: dict[int, list[int]] = {}
        for b, latency in rows:
            if latency is not None:
                grouped.setdefault(int(b), []).append(int(latency))
        return {
            b: (nearest_rank(v, 0.5), nearest_rank(v, 0.95), nearest_rank(v, 0.99))
            for b, v in grouped.items()
        }

    async def breakdown(
        self,
        session: AsyncSession,
        tenant: Tenant,
        f: Filters,
        dimension: Dimension,
        meta_key: str | None,
        sort: SortKey,
        descending: bool,
        limit: int | None,
    ) -> Sequence[Any]:
        previous = f.previous()
        current = R.created_at >= f.start
        before = R.created_at < f.start
        # One pass over both windows; FILTER splits the aggregates.
        both = [*where(tenant, f, window=False)]
        if f.ranges is not None:  # the raw edges of both windows; rollups give the rest
            both += where(tenant, f)[1:]
        else:
            both += [R.created_at >= previous.start, R.created_at < f.end]
        value = dimension_expr(dimension, meta_key).label("value")
        requests = func.count().filter(current)
        cost = func.coalesce(func.sum(R.cost_nano_usd).filter(current), 0)
        columns: dict[str, ColumnElement[Any]] = {
            "requests": requests,
            "errors": func.count().filter(current, R.status == "error"),
            "cost_nano_usd": cost,
            "avg_tokens": func.avg(R.total_tokens).filter(current),
            "avg_latency": func.avg(R.latency_ms).filter(current),
            "latency_count": func.count(R.latency_ms).filter(current),
            "latency_sum": func.coalesce(func.sum(R.latency_ms).filter(current), 0),
            "last_seen": func.max(R.created_at).filter(current),
            "prev_requests": func.count().filter(before),
            "prev_cost_nano_usd": func.coalesce(func.sum(R.cost_nano_usd).filter(before), 0),
            "prev_tokens": func.coalesce(func.sum(R.total_tokens).filter(before), 0),
            "tokens": func.coalesce(func.sum(R.total_tokens).filter(current), 0),
        }
        order_by: dict[SortKey, ColumnElement[Any]] = {
            SortKey.cost: cost,
            SortKey.requests: requests,
            SortKey.avg_tokens: columns["avg_tokens"],
            SortKey.avg_latency: columns["avg_latency"],
            SortKey.error_rate: columns["errors"] * 1.0 / func.nullif(requests, 0),
            SortKey.cost_per_request: cost * 1.0 / func.nullif(requests, 0),
            SortKey.last_seen: columns["last_seen"],
            SortKey.value: value,
        }
        key = order_by[sort]
        stmt = (
            select(value, *(c.label(n) for n, c in columns.items()))
            .where(*both)
            .group_by(value)
            .having(or_(requests > 0, func.count().filter(before) > 0))
            .order_by(key.desc().nulls_last() if descending else key.asc().nulls_last(), value)
            .limit(limit)
        )
        return (await session.execute(stmt)).all()

    async def metadata_keys(
        self, session: AsyncSession, tenant: Tenant, f: Filters, sample: int = 2000
    ) -> list[str]:
        """Keys seen in the latest rows of the window: a choice list, not an exact census."""
        recent = (
            select(R.request_metadata)
            .where(*where(tenant, f))
            .order_by(R.created_at.desc())
            .limit(sample)
        )
        keys: set[str] = set()
        for metadata in await session.scalars(recent):
            keys.update(k for k in (metadata or {}) if not k.startswith("_"))
        return sorted(keys)

    def _page_stmt(self, tenant: Tenant, f: Filters) -> Select[Any]:
        return select(R).where(*where(tenant, f)).order_by(R.created_at.desc(), R.id.desc())

    async def page(
        self,
        session: AsyncSession,
        tenant: Tenant,
        f: Filters,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> Sequence[LLMRequest]:
        stmt = self._page_stmt(tenant, f)
        if after is not None:
            at, request_id = after
            stmt = stmt.where(or_(R.created_at < at, and_(R.created_at == at, R.id < request_id)))
        return list((await session.scalars(stmt.limit(limit))).all())

    async def get(
        self, session: AsyncSession, tenant: Tenant, request_id: uuid.UUID
    ) -> LLMRequest | None:
        stmt = select(R).where(tenant_scope(R.workspace_id, tenant), R.id == request_id)
        return (await session.scalars(stmt)).first()

    async def delete_modes(
        self,
        session: AsyncSession,
        tenant: Tenant,
        modes: Sequence[str],
        api_key_ids: Sequence[uuid.UUID] | None,
    ) -> int:
        stmt = delete(R).where(tenant_scope(R.workspace_id, tenant), R.data_mode.in_(modes))
        if api_key_ids is not None:
            stmt = stmt.where(R.api_key_id.in_(api_key_ids) if api_key_ids else literal(False))
        result = await session.execute(stmt.execution_options(synchronize_session=False))
        return int(getattr(result, "rowcount", 0) or 0)


analytics_repository = AnalyticsRepository()

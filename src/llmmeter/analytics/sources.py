"""Where each analytics number is read from: raw rows, or rollups for the whole hours of a
long window plus raw rows for its partial hours (see `rollups.py`). Every function returns
plain sums, merged, for the service to shape."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.analytics import rollups
from llmmeter.analytics.filters import Dimension, Filters, SortKey
from llmmeter.analytics.repository import analytics_repository
from llmmeter.analytics.rollup_repository import rollup_repository
from llmmeter.kit.tenancy import Tenant

SUM_KEYS = (
    "requests",
    "errors",
    "cost_nano_usd",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "unknown_model_rows",
    "rate_limited",
    "latency_count",
    "latency_sum",
)
BREAKDOWN_KEYS = (
    "requests",
    "errors",
    "cost_nano_usd",
    "tokens",
    "latency_count",
    "latency_sum",
    "prev_requests",
    "prev_cost_nano_usd",
    "prev_tokens",
)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _add(into: dict[str, Any], row: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        into[key] = int(into.get(key) or 0) + int(row.get(key) or 0)


async def totals(session: AsyncSession, tenant: Tenant, f: Filters) -> dict[str, Any]:
    """Sums and p50/p95/p99 (`approximate` says whether they came from histograms)."""
    plan = (
        await rollups.fresh_plan(session, tenant, f.start, f.end)
        if rollups.usable(_dialect(session), f)
        else None
    )
    if plan is None or not plan.rolled:
        out = await analytics_repository.totals(session, tenant, f)
        out.update(await analytics_repository.percentiles(session, tenant, f))
        return {**out, "approximate": False}
    edges = replace(f, ranges=plan.raw)
    out = await analytics_repository.totals(session, tenant, edges)
    if plan.rolled:
        days, hours = plan.days_and_hours()
        rolled = await rollup_repository.totals(
            session, tenant, f, days, hours, by_user=f.user is not None
        )
        _add(out, rolled, SUM_KEYS)
    if not rollups.histogram_usable(f):
        out.update(await analytics_repository.percentiles(session, tenant, f))
        return {**out, "approximate": False}
    histogram = await _histogram(session, tenant, f, plan)
    return {
        **out,
        "p50": rollups.percentile(histogram, 0.5),
        "p95": rollups.percentile(histogram, 0.95),
        "p99": rollups.percentile(histogram, 0.99),
        "approximate": True,
    }


async def _histogram(
    session: AsyncSession, tenant: Tenant, f: Filters, plan: rollups.Plan
) -> dict[int, int]:
    edges = replace(f, ranges=plan.raw)
    histogram: dict[int, int] = defaultdict(int)
    for row in await analytics_repository.latency_histogram(session, tenant, edges):
        histogram[int(row.bucket)] += int(row.n)
    days, hours = plan.days_and_hours()
    for row in await rollup_repository.histogram(session, tenant, f, days, hours):
        histogram[int(row.bucket)] += int(row.n)
    return dict(histogram)


async def series(
    session: AsyncSession, tenant: Tenant, f: Filters, step: int, stack_by: Dimension
) -> tuple[dict[int, dict[str, Any]], list[tuple[int, str, int]], dict[int, dict[int, int]] | None]:
    """Per time bucket: sums; (bucket, stack group, cost); latency histograms per bucket, or
    None when the exact per-bucket percentiles come from raw rows."""
    use = step % 3600 == 0 and rollups.usable(_dialect(session), f, stack_by)
    plan = await rollups.fresh_plan(session, tenant, f.start, f.end) if use else None
    if plan is not None and not plan.rolled:
        plan = None
    raw_f = replace(f, ranges=plan.raw) if plan else f
    sums: dict[int, dict[str, Any]] = {}
    for row in await analytics_repository.series(session, tenant, raw_f, step):
        sums[int(row.bucket)] = dict(row._mapping)
    stacks = [
        (int(r.bucket), str(r.grp), int(r.cost_nano_usd or 0))
        for r in await analytics_repository.cost_by_bucket_and_group(
            session, tenant, raw_f, step, stack_by
        )
    ]
    if plan is None:
        return sums, stacks, None
    # Day rows only when buckets are whole days; hour rows otherwise.
    days, hours = plan.days_and_hours() if step % 86400 == 0 else ((), plan.rolled)
    if plan.rolled:
        by_user = f.user is not None
        for row in await rollup_repository.series(session, tenant, f, days, hours, step, by_user):
            _add(sums.setdefault(int(row.bucket), {}), dict(row._mapping), SUM_KEYS)
        grouped = await rollup_repository.series(
            session, tenant, f, days, hours, step, by_user, group=stack_by
        )
        stacks += [(int(r.bucket), str(r.grp), int(r.cost_nano_usd or 0)) for r in grouped]
    if not rollups.histogram_usable(f):
        return sums, stacks, None
    histograms: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in await analytics_repository.latency_histogram(session, tenant, raw_f, step):
        histograms[int(row.at)][int(row.bucket)] += int(row.n)
    for row in await rollup_repository.histogram(session, tenant, f, days, hours, step):
        histograms[int(row.at)][int(row.bucket)] += int(row.n)
    return sums, stacks, {t: dict(h) for t, h in histograms.items()}


async def breakdown(
    session: AsyncSession,
    tenant: Tenant,
    f: Filters,
    dimension: Dimension,
    meta_key: str | None,
    sort: SortKey,
    descending: bool,
    limit: int,
) -> list[dict[str, Any]]:
    """Rows per value for this window and the one before, sorted and cut to `limit`."""
    previous = f.previous()
    both = replace(f, start=previous.start)
    plan = (
        await rollups.fresh_plan(session, tenant, previous.start, f.end, (f.start,))
        if rollups.usable(_dialect(session), both, dimension)
        else None
    )
    if plan is None or not plan.rolled:
        rows = await analytics_repository.breakdown(
            session, tenant, f, dimension, meta_key, sort, descending, limit
        )
        return [dict(r._mapping) for r in rows]
    merged: dict[str, dict[str, Any]] = {}
    raw = await analytics_repository.breakdown(
        session, tenant, replace(f, ranges=plan.raw), dimension, None, sort, descending, None
    )
    days, hours = plan.days_and_hours()
    rolled = (
        await rollup_repository.breakdown(session, tenant, f, days, hours, dimension)
        if plan.rolled
        else []
    )
    for row in [*raw, *rolled]:
        data = dict(row._mapping)
        into = merged.setdefault(str(data["value"]), {"value": str(data["value"])})
        _add(into, data, BREAKDOWN_KEYS)
        seen = data.get("last_seen")
        if seen is not None and (into.get("last_seen") is None or seen > into["last_seen"]):
            into["last_seen"] = seen
    out = [r for r in merged.values() if r["requests"] or r["prev_requests"]]
    for r in out:
        r.setdefault("last_seen", None)
        r["avg_tokens"] = r["tokens"] / r["requests"] if r["requests"] else None
        r["avg_latency"] = r["latency_sum"] / r["latency_count"] if r["latency_count"] else None
    return _sorted(out, sort, descending)[:limit]


def _sorted(rows: list[dict[str, Any]], sort: SortKey, descending: bool) -> list[dict[str, Any]]:
    def key(r: dict[str, Any]) -> Any:
        n = r["requests"]
        match sort:
            case SortKey.cost:
                return r["cost_nano_usd"]
            case SortKey.requests:
                return n
            case SortKey.avg_tokens:
                return r["avg_tokens"]
            case SortKey.avg_latency:
                return r["avg_latency"]
            case SortKey.error_rate:
                return r["errors"] / n if n else None
            case SortKey.cost_per_request:
                return r["cost_nano_usd"] / n if n else None
            case SortKey.last_seen:
                return r["last_seen"]
        return r["value"]

    present = [r for r in rows if key(r) is not None]
    missing = [r for r in rows if key(r) is None]
    present.sort(key=lambda r: r["value"])
    present.sort(key=key, reverse=descending)
    return present + sorted(missing, key=lambda r: r["value"])

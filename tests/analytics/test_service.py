"""The analytics query service against sums and percentiles computed independently from the
raw rows, on PostgreSQL and on the embedded SQLite."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.analytics.filters import Dimension, Filters, SortKey
from llmmeter.analytics.service import analytics_service, decode_cursor
from llmmeter.auth.principal import WorkspaceScope
from tests.fixtures.factories import create_workspace
from tests.fixtures.seed import nearest_rank, seed

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
async def seeded(db: AsyncSession) -> tuple[WorkspaceScope, list[dict[str, Any]]]:
    workspace = await create_workspace(db)
    await db.commit()
    await seed(db, workspace.id, NOW)
    other = await create_workspace(db)
    await db.commit()
    await seed(db, other.id, NOW, n=50, rng_seed=99)  # must never leak into the first
    rows = await db.execute(
        text(
            "SELECT created_at, cost_nano_usd, latency_ms, status, endpoint_tag, prompt_version,"
            " data_mode, environment, total_tokens, pricing_status, metadata"
            " FROM llm_requests WHERE workspace_id = :w"
        ),
        {"w": workspace.id if db.bind.dialect.name != "sqlite" else workspace.id.hex},
    )
    raw = []
    for r in rows.mappings():
        row = dict(r)
        at = row["created_at"]
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        row["created_at"] = at if at.tzinfo else at.replace(tzinfo=UTC)
        raw.append(row)
    assert len(raw) == 400
    return WorkspaceScope(workspace.id), raw


def window(raw: list[dict[str, Any]], f: Filters) -> list[dict[str, Any]]:
    return [
        r
        for r in raw
        if f.start <= r["created_at"] < f.end
        and (f.data_mode is None or r["data_mode"] == f.data_mode)
    ]


async def test_overview_equals_independent_aggregates(
    db: AsyncSession, seeded: tuple[WorkspaceScope, list[dict[str, Any]]]
) -> None:
    scope, raw = seeded
    f = Filters(start=NOW - timedelta(hours=24), end=NOW)
    rows = window(raw, f)
    o = await analytics_service.overview(db, scope, f)
    latencies = [r["latency_ms"] for r in rows if r["latency_ms"] is not None]
    assert o.requests == len(rows) > 100
    assert o.cost_usd == pytest.approx(sum(r["cost_nano_usd"] for r in rows) / 1e9)
    assert o.errors == sum(r["status"] == "error" for r in rows)
    assert o.total_tokens == sum(r["total_tokens"] for r in rows)
    assert o.unknown_model_rows == sum(r["pricing_status"] == "unknown" for r in rows) > 0
    assert o.p50_ms == nearest_rank(latencies, 0.5)
    assert o.p95_ms == nearest_rank(latencies, 0.95)
    assert o.p99_ms == nearest_rank(latencies, 0.99)


async def test_filters_narrow_every_number(
    db: AsyncSession, seeded: tuple[WorkspaceScope, list[dict[str, Any]]]
) -> None:
    scope, raw = seeded
    f = Filters(
        start=NOW - timedelta(hours=48),
        end=NOW,
        data_mode=None,
        environment="prod",
        prompt_version="v2",
        metadata=(("tenantId", "acme"),),
    )
    rows = [
        r
        for r in window(raw, f)
        if r["environment"] == "prod"
        and r["prompt_version"] == "v2"
        and _meta(r)["tenantId"] == "acme"
    ]
    o = await analytics_service.overview(db, scope, f)
    assert o.requests == len(rows) > 0
    assert o.cost_usd == pytest.approx(sum(r["cost_nano_usd"] for r in rows) / 1e9)


def _meta(row: dict[str, Any]) -> dict[str, str]:
    value = row["metadata"]
    if isinstance(value, str):
        import json

        return dict(json.loads(value))
    return dict(value)


async def test_breakdown_by_tag_compares_with_the_previous_window(
    db: AsyncSession, seeded: tuple[WorkspaceScope, list[dict[str, Any]]]
) -> None:
    scope, raw = seeded
    f = Filters(start=NOW - timedelta(hours=24), end=NOW)
    current, previous = window(raw, f), window(raw, f.previous())
    table = await analytics_service.breakdown(db, scope, f, Dimension.endpoint_tag)
    by_tag = {r.value: r for r in table}
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in current:
        expected[r["endpoint_tag"]][0] += 1
        expected[r["endpoint_tag"]][1] += r["cost_nano_usd"]
    for r in previous:
        expected[r["endpoint_tag"]][2] += 1
        expected[r["endpoint_tag"]][3] += r["cost_nano_usd"]
    assert set(by_tag) == set(expected)
    for tag, (n, cost, prev_n, prev_cost) in expected.items():
        row = by_tag[tag]
        assert (row.requests, row.prev_requests) == (n, prev_n)
        assert row.cost_usd == pytest.approx(cost / 1e9)
        assert row.prev_cost_usd == pytest.approx(prev_cost / 1e9)
    assert [r.cost_usd for r in table] == sorted((r.cost_usd for r in table), reverse=True)


async def test_group_by_any_metadata_key(
    db: AsyncSession, seeded: tuple[WorkspaceScope, list[dict[str, Any]]]
) -> None:
    scope, raw = seeded
    f = Filters(start=NOW - timedelta(hours=48), end=NOW, data_mode=None)
    table = await analytics_service.breakdown(
        db, scope, f, Dimension.metadata, meta_key="feature", sort=SortKey.requests
    )
    expected: dict[str, int] = defaultdict(int)
    for r in window(raw, f):
        expected[_meta(r).get("feature", "(none)")] += 1
    assert {r.value: r.requests for r in table} == expected
    assert [r.requests for r in table] == sorted(expected.values(), reverse=True)
    errors = {r.value: r.error_rate for r in table}
    assert all(rate is not None and 0 <= rate <= 1 for rate in errors.values())


async def test_series_buckets_add_up_to_the_overview(
    db: AsyncSession, seeded: tuple[WorkspaceScope, list[dict[str, Any]]]
) -> None:
    scope, _ = seeded
    f = Filters(start=NOW - timedelta(hours=24), end=NOW)
    series = await analytics_service.series(db, scope, f, Dimension.model)
    overview = await analytics_service.overview(db, scope, f)
    assert series.step == 3600
    assert len(series.times) == 24
    assert sum(series.requests) == overview.requests
    assert sum(series.cost_usd) == pytest.approx(overview.cost_usd)
    stacked = sum(sum(values) for values in series.stacks.values())
    assert stacked == pytest.approx(overview.cost_usd)
    assert {"gpt-4o", "gpt-4o-mini"} <= set(series.stacks)
    assert any(p is not None for p in series.p95)


async def test_movers_rank_by_absolute_change(
    db: AsyncSession, seeded: tuple[WorkspaceScope, list[dict[str, Any]]]
) -> None:
    scope, _ = seeded
    f = Filters(start=NOW - timedelta(hours=24), end=NOW)
    movers = await analytics_service.movers(db, scope, f)
    deltas = [abs(m.row.cost_delta_usd) for m in movers]
    assert deltas == sorted(deltas, reverse=True)
    assert len(movers) == 10


async def test_cursor_pages_cover_every_row_once(
    db: AsyncSession, seeded: tuple[WorkspaceScope, list[dict[str, Any]]]
) -> None:
    scope, raw = seeded
    f = Filters(start=NOW - timedelta(hours=48), end=NOW, data_mode=None)
    seen: list[uuid.UUID] = []
    cursor = None
    while True:
        page = await analytics_service.page(db, scope, f, cursor, limit=37)
        seen += [r.id for r in page.rows]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == len(window(raw, f))
    assert decode_cursor("not base64 at all!") is None


async def test_another_workspace_sees_none_of_it(
    db: AsyncSession, seeded: tuple[WorkspaceScope, list[dict[str, Any]]]
) -> None:
    stranger = WorkspaceScope(uuid.uuid4())
    f = Filters(start=NOW - timedelta(hours=48), end=NOW, data_mode=None)
    assert (await analytics_service.overview(db, stranger, f)).requests == 0
    assert await analytics_service.breakdown(db, stranger, f, Dimension.model) == []
    page = await analytics_service.page(db, stranger, f, None)
    assert list(page.rows) == []

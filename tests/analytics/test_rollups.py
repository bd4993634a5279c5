"""Rollups against raw aggregates on a seeded data set (PostgreSQL): sums exact, percentiles
within half a histogram bucket, also after an error → success replacement and after deleting
test data, refreshed or not yet."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from llmmeter.analytics import rollups, sources
from llmmeter.analytics.filters import Dimension, Filters, SortKey
from llmmeter.analytics.repository import analytics_repository, nearest_rank
from llmmeter.analytics.rollups import rollup_service
from llmmeter.analytics.service import analytics_service
from llmmeter.auth.principal import WorkspaceScope
from llmmeter.config import Settings
from llmmeter.db import create_sessionmaker
from tests.conftest import FakeClock, serve
from tests.fixtures.factories import create_keyed_workspace, record
from tests.fixtures.seed import seed

SUMS = ("requests", "errors", "cost_usd", "total_tokens", "unknown_model_rows", "rate_limited")


@pytest.fixture
def settings(pg_settings: Settings) -> Settings:
    return pg_settings  # rollups are PostgreSQL's


@pytest.fixture(autouse=True)
def no_slack(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production re-reads the last 2 minutes' writes raw (late commits); these tests write,
    refresh and read in sequence, so the rollups may be trusted up to the refresh itself."""
    monkeypatch.setattr(rollups, "SLACK", timedelta(0))


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
async def seeded(
    db: AsyncSession, sessions: async_sessionmaker[AsyncSession]
) -> tuple[WorkspaceScope, datetime]:
    keyed = await create_keyed_workspace(db)
    now = datetime.now(UTC).replace(second=30, microsecond=0)
    await seed(db, keyed.id, now, n=1500, span=timedelta(days=3))
    await rollup_service.refresh(sessions, datetime.now(UTC))
    return WorkspaceScope(keyed.id), now


async def raw_overview(db: AsyncSession, scope: WorkspaceScope, f: Filters) -> dict[str, object]:
    t = await analytics_repository.totals(db, scope, f)
    t.update(await analytics_repository.percentiles(db, scope, f))
    return t


def close(approx: int | None, exact: int | None) -> bool:
    if approx is None or exact is None:
        return approx == exact
    return abs(approx - exact) <= 0.045 * exact + 1


async def assert_overview_matches(db: AsyncSession, scope: WorkspaceScope, f: Filters) -> None:
    got = await analytics_service.overview(db, scope, f)
    exact = await raw_overview(db, scope, f)
    assert got.approximate, "the rollups were not used"
    assert got.requests == exact["requests"]
    assert got.errors == exact["errors"]
    assert round(got.cost_usd * 1e9) == exact["cost_nano_usd"]
    assert got.total_tokens == exact["total_tokens"]
    assert got.unknown_model_rows == exact["unknown_model_rows"]
    assert got.rate_limited == exact["rate_limited"]
    for q in ("p50", "p95", "p99"):
        assert close(getattr(got, f"{q}_ms"), exact[q]), q  # type: ignore[arg-type]
    # The histogram behind those percentiles holds each latency exactly once.
    plan = await rollups.fresh_plan(db, scope, f.start, f.end)
    assert plan is not None
    histogram = await sources._histogram(db, scope, f, plan)
    assert sum(histogram.values()) == exact["latency_count"]


@pytest.mark.parametrize("hours", [24, 48, 72])
async def test_overview_from_rollups_equals_raw(
    db: AsyncSession, seeded: tuple[WorkspaceScope, datetime], hours: int
) -> None:
    scope, now = seeded
    await assert_overview_matches(db, scope, Filters(start=now - timedelta(hours=hours), end=now))
    await assert_overview_matches(
        db, scope, Filters(start=now - timedelta(hours=hours), end=now, data_mode=None)
    )
    await assert_overview_matches(
        db,
        scope,
        Filters(start=now - timedelta(hours=hours), end=now, endpoint_tag="search.rerank"),
    )


async def test_user_filter_reads_the_user_rollup(
    db: AsyncSession, seeded: tuple[WorkspaceScope, datetime]
) -> None:
    scope, now = seeded
    f = Filters(start=now - timedelta(hours=48), end=now, user="u3")
    got = await analytics_service.overview(db, scope, f)
    exact = await raw_overview(db, scope, f)
    assert (got.requests, round(got.cost_usd * 1e9)) == (exact["requests"], exact["cost_nano_usd"])
    assert got.p95_ms == exact["p95"]  # no user histogram: exact from raw rows


async def test_series_from_rollups_equals_raw(
    db: AsyncSession, seeded: tuple[WorkspaceScope, datetime]
) -> None:
    scope, now = seeded
    for span in (timedelta(hours=24), timedelta(days=3)):
        f = Filters(start=now - span, end=now)
        series = await analytics_service.series(db, scope, f, Dimension.model)
        raw = {
            int(r.bucket): r for r in await analytics_repository.series(db, scope, f, series.step)
        }
        exact_latency = await analytics_repository.latency_by_bucket(db, scope, f, series.step)
        for i, t in enumerate(series.times):
            row = raw.get(t)
            assert series.requests[i] == (row.requests if row else 0)
            assert round(series.cost_usd[i] * 1e9) == (row.cost_nano_usd if row else 0)
            exact = exact_latency.get(t, (None, None, None))
            assert close(series.p95[i], exact[1])
        stacked = sum(sum(v) for v in series.stacks.values())
        assert stacked == pytest.approx(sum(series.cost_usd))


@pytest.mark.parametrize(
    "dimension", [Dimension.endpoint_tag, Dimension.model, Dimension.user, Dimension.provider]
)
async def test_breakdowns_from_rollups_equal_raw(
    db: AsyncSession, seeded: tuple[WorkspaceScope, datetime], dimension: Dimension
) -> None:
    scope, now = seeded
    f = Filters(start=now - timedelta(hours=30), end=now)
    got = await analytics_service.breakdown(db, scope, f, dimension, sort=SortKey.requests)
    raw = await analytics_repository.breakdown(
        db, scope, f, dimension, None, SortKey.requests, True, None
    )
    expected = {r.value: r for r in raw}
    assert {r.value for r in got} == set(expected)
    for row in got:
        e = expected[row.value]
        assert (row.requests, row.prev_requests, row.errors) == (
            e.requests,
            e.prev_requests,
            e.errors,
        )
        assert round(row.cost_usd * 1e9) == e.cost_nano_usd
        assert round(row.prev_cost_usd * 1e9) == e.prev_cost_nano_usd
        assert row.tokens == e.tokens
        assert row.last_seen == e.last_seen
    assert [r.requests for r in got] == sorted((r.requests for r in got), reverse=True)


async def test_replacement_and_deletion_keep_rollups_equal_to_raw(
    db: AsyncSession, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    keyed = await create_keyed_workspace(db)
    scope = WorkspaceScope(keyed.id)
    now = datetime.now(UTC)
    await seed(db, keyed.id, now, n=300, span=timedelta(hours=40))
    f = Filters(start=now - timedelta(hours=36), end=now, data_mode=None)
    clock = FakeClock()
    async with serve(settings, clock) as client:
        failed = record(
            status="error",
            errorCode="timeout",
            inputTokens=10,
            outputTokens=0,
            totalTokens=10,
            latencyMs=30_000,
            createdAt=(now - timedelta(hours=20)).isoformat(),
        )
        r = await client.post("/v1/ingest/llm-request", json=failed, headers=keyed.headers)
        assert r.status_code == 200
        await rollup_service.refresh(sessions, datetime.now(UTC))
        await assert_overview_matches(db, scope, f)
        # The retry succeeds: the stored error row is replaced (its hour must be recomputed).
        retry = {**failed, "status": "success", "errorCode": None, "inputTokens": 5000}
        retry["totalTokens"] = 5045
        r = await client.post("/v1/ingest/llm-request", json=retry, headers=keyed.headers)
        assert r.json()["updated"] is True
    await assert_overview_matches(db, scope, f)  # before the refresh: that hour is read raw
    await rollup_service.refresh(sessions, datetime.now(UTC))
    await assert_overview_matches(db, scope, f)

    # Deleting test and demo rows: equal before and after the next refresh.
    deleted = await analytics_service.delete_test_data(db, scope, None)
    await db.commit()
    assert deleted > 0
    await assert_overview_matches(db, scope, f)
    await rollup_service.refresh(sessions, datetime.now(UTC))
    await assert_overview_matches(db, scope, f)
    by_mode = await analytics_service.breakdown(db, scope, f, Dimension.environment)
    assert (
        sum(r.requests for r in by_mode)
        == (await analytics_service.overview(db, scope, f)).requests
    )


def test_plan_cuts_partial_hours_and_pending_ones() -> None:
    start = datetime(2026, 11, 1, 10, 30, tzinfo=UTC)
    end = datetime(2026, 11, 3, 15, 10, tzinfo=UTC)
    pending = {datetime(2026, 11, 2, 7, tzinfo=UTC)}
    p = rollups.plan(start, end, (), pending)
    assert p.raw == (
        (start, datetime(2026, 11, 1, 11, tzinfo=UTC)),
        (datetime(2026, 11, 2, 7, tzinfo=UTC), datetime(2026, 11, 2, 8, tzinfo=UTC)),
        (datetime(2026, 11, 3, 15, tzinfo=UTC), end),
    )
    assert p.rolled == (
        (datetime(2026, 11, 1, 11, tzinfo=UTC), datetime(2026, 11, 2, 7, tzinfo=UTC)),
        (datetime(2026, 11, 2, 8, tzinfo=UTC), datetime(2026, 11, 3, 15, tzinfo=UTC)),
    )
    days, hours = p.days_and_hours()
    assert days == ()  # no whole day on either side of the pending hour
    long = rollups.plan(start, start + timedelta(days=5), ())
    days, hours = long.days_and_hours()
    assert days == ((datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC)),)
    assert hours[0] == (datetime(2026, 11, 1, 11, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))


def test_histogram_percentiles_are_within_half_a_bucket() -> None:
    rng = random.Random(3)
    for _ in range(50):
        values = sorted(int(rng.lognormvariate(7, 1.2)) for _ in range(rng.randrange(1, 3000)))
        histogram: dict[int, int] = {}
        for v in values:
            b = rollups.bucket_of(v)
            histogram[b] = histogram.get(b, 0) + 1
        for q in (0.5, 0.95, 0.99):
            exact = nearest_rank(values, q)
            assert exact is not None
            assert close(rollups.percentile(histogram, q), exact)


async def test_a_workspace_id_never_reads_anothers_rollups(
    db: AsyncSession, seeded: tuple[WorkspaceScope, datetime]
) -> None:
    _, now = seeded
    stranger = WorkspaceScope(uuid.uuid4())
    got = await analytics_service.overview(
        db, stranger, Filters(start=now - timedelta(days=3), end=now)
    )
    assert got.requests == 0

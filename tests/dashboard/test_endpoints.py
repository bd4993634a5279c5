"""The dashboard's numbers against SQL written independently in the test; partials, chart
data, the requests explorer and the CSV export."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import FakeClock
from tests.fixtures.seed import seed
from tests.fixtures.web import Browser

Owner = tuple[Browser, uuid.UUID]
NOW = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)
# range=24h ends at the next whole minute after "now".
END = datetime(2026, 11, 20, 12, 1, tzinfo=UTC)
START = END - timedelta(hours=24)

INDEPENDENT = text(
    """
    SELECT count(*) AS n,
           coalesce(sum(cost_nano_usd), 0) AS cost,
           percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50
    FROM llm_requests
    WHERE workspace_id = :w AND created_at >= :s AND created_at < :e AND data_mode = 'real'
    """
)


def metric(html: str, name: str) -> str:
    found = re.search(rf'data-metric="{name}" data-value="([^"]*)"', html)
    assert found, name
    return found.group(1)


@pytest.fixture
async def seeded(owner: Owner, db: AsyncSession, clock: FakeClock) -> Owner:
    clock.set(NOW)
    browser, ws = owner
    await seed(db, ws, NOW)
    return browser, ws


async def test_dashboard_numbers_equal_independent_sql(seeded: Owner, db: AsyncSession) -> None:
    browser, ws = seeded
    page = await browser.get(f"/app/w/{ws}/?range=24h")
    assert page.status_code == 200
    expected = (await db.execute(INDEPENDENT, {"w": ws, "s": START, "e": END})).one()
    assert int(metric(page.text, "requests")) == expected.n > 100
    assert float(metric(page.text, "spend")) == pytest.approx(int(expected.cost) / 1e9)
    assert int(metric(page.text, "p95")) == expected.p95
    assert int(metric(page.text, "p50")) == expected.p50
    # The tag table's rows add up to the totals.
    tag_section = page.text.split('id="by-tag"', 1)[1].split("</section>", 1)[0]
    counts = [int(v) for v in re.findall(r'data-col="requests" data-value="(\d+)"', tag_section)]
    assert sum(counts) == expected.n


async def test_filters_in_the_url_change_the_numbers(seeded: Owner, db: AsyncSession) -> None:
    browser, ws = seeded
    page = await browser.get(f"/app/w/{ws}/?range=24h&version=v2&meta=tenantId%3Dacme")
    stmt = text(
        "SELECT count(*) FROM llm_requests WHERE workspace_id = :w AND created_at >= :s"
        " AND created_at < :e AND data_mode = 'real' AND prompt_version = 'v2'"
        " AND metadata->>'tenantId' = 'acme'"
    )
    n = (await db.execute(stmt, {"w": ws, "s": START, "e": END})).scalar_one()
    assert int(metric(page.text, "requests")) == n > 0
    assert "tenantId = acme" in page.text  # a removable filter chip
    everything = await browser.get(f"/app/w/{ws}/?range=30d&mode=all")
    total = (
        await db.execute(
            text("SELECT count(*) FROM llm_requests WHERE workspace_id = :w"), {"w": ws}
        )
    ).scalar_one()
    assert int(metric(everything.text, "requests")) == total == 400


async def test_the_overview_partial_refreshes_the_same_numbers(seeded: Owner) -> None:
    browser, ws = seeded
    full = await browser.get(f"/app/w/{ws}/?range=7d")
    partial = await browser.get(
        f"/app/w/{ws}/partials/overview?range=7d", headers={"HX-Request": "true"}
    )
    assert partial.status_code == 200
    assert "<html" not in partial.text
    for name in ("spend", "requests", "p95", "error-rate"):
        assert metric(partial.text, name) == metric(full.text, name)


async def test_chart_data_is_aligned_and_adds_up(seeded: Owner) -> None:
    browser, ws = seeded
    page = await browser.get(f"/app/w/{ws}/?range=24h")
    data = (await browser.get(f"/app/w/{ws}/series.json?range=24h&stack=model")).json()
    n = len(data["times"])
    assert n == 25  # hourly buckets touching the 24 h window
    assert all(len(data[k]) == n for k in ("requests", "errors", "cost_usd", "p50", "p95", "p99"))
    assert sum(data["requests"]) == int(metric(page.text, "requests"))
    assert sum(map(sum, data["stacks"].values())) == pytest.approx(
        float(metric(page.text, "spend"))
    )


@pytest.mark.parametrize(
    ("by", "key", "expect"),
    [
        ("model", "", "gpt-4o-mini"),
        ("metadata", "tenantId", "globex"),
        ("user", "", "u3"),
        ("tenant", "", "initech"),
        ("provider", "", "anthropic"),
    ],
)
async def test_breakdown_partials(seeded: Owner, by: str, key: str, expect: str) -> None:
    browser, ws = seeded
    r = await browser.get(
        f"/app/w/{ws}/partials/breakdown?range=24h&by={by}&key={key}&sort=requests&dir=asc"
    )
    assert r.status_code == 200
    assert f'data-value="{expect}"' in r.text
    counts = [int(v) for v in re.findall(r'data-col="requests" data-value="(\d+)"', r.text)]
    assert counts == sorted(counts)


async def test_movers_partial_lists_the_biggest_change_first(seeded: Owner) -> None:
    browser, ws = seeded
    r = await browser.get(f"/app/w/{ws}/partials/movers?range=24h")
    assert r.status_code == 200
    assert r.text.count("<tr>") == 11  # header and ten movers


async def test_requests_explorer_pages_and_shows_details(seeded: Owner) -> None:
    browser, ws = seeded
    first = await browser.get(f"/app/w/{ws}/requests?range=30d&mode=all")
    ids = re.findall(rf"/app/w/{ws}/requests/([0-9a-f-]{{36}})", first.text)
    assert len(ids) == 50
    cursor = re.search(r"cursor=([A-Za-z0-9_-]+)", first.text)
    assert cursor
    more = await browser.get(
        f"/app/w/{ws}/requests?range=30d&mode=all&cursor={cursor.group(1)}",
        headers={"HX-Request": "true"},
    )
    more_ids = re.findall(rf"/app/w/{ws}/requests/([0-9a-f-]{{36}})", more.text)
    assert len(more_ids) == 50
    assert not set(ids) & set(more_ids)
    detail = await browser.get(f"/app/w/{ws}/requests/{ids[0]}")
    assert detail.status_code == 200
    assert "tenantId" in detail.text


async def test_csv_export_streams_the_filtered_rows_with_formula_escaping(
    seeded: Owner, db: AsyncSession
) -> None:
    browser, ws = seeded
    r = await browser.get(f"/app/w/{ws}/requests.csv?range=30d&mode=all&tag=support.reply")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    n = (
        await db.execute(
            text(
                "SELECT count(*) FROM llm_requests WHERE workspace_id = :w"
                " AND endpoint_tag = 'support.reply'"
            ),
            {"w": ws},
        )
    ).scalar_one()
    assert len(rows) == n > 0
    assert {row["endpointTag"] for row in rows} == {"support.reply"}
    hostile = await browser.get(f"/app/w/{ws}/requests.csv?range=30d&mode=all")
    tags = {row["endpointTag"] for row in csv.DictReader(io.StringIO(hostile.text))}
    assert "'=cmd|' /C calc'!A0" in tags  # neutralised for spreadsheets
    assert "=cmd|' /C calc'!A0" not in tags


@pytest.mark.parametrize(
    "query",
    [
        "range=custom&from=yesterday",
        "range=custom&from=2026-11-20T10:00&to=2026-11-19T10:00",
        "range=custom&from=2020-01-01T00:00&to=2026-01-01T00:00",
    ],
)
async def test_bad_custom_ranges_are_explained(seeded: Owner, query: str) -> None:
    browser, ws = seeded
    r = await browser.get(f"/app/w/{ws}/?{query}")
    assert r.status_code == 422
    assert "text/html" in r.headers["content-type"]


async def test_odd_parameters_fall_back_to_defaults(seeded: Owner) -> None:
    browser, ws = seeded
    r = await browser.get(f"/app/w/{ws}/?range=forever&mode=imaginary&meta=novalue&meta==x")
    assert r.status_code == 200
    assert 'class="active">24h' in r.text
    bad = await browser.get(f"/app/w/{ws}/partials/breakdown?by=nonsense&sort=nope&dir=up")
    assert bad.status_code == 200

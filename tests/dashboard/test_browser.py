"""The pages a person uses, in Debian's Chromium driven by Playwright: sign up, create a
workspace and a key, send 200 records, read the dashboard, rotate the key. Screenshots of the
dashboard and the keys page are written to docs/."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from llmmeter.config import PlanTier, Settings
from tests.conftest import with_plan
from tests.fixtures.factories import record
from tests.fixtures.live import chromium, live_server
from tests.fixtures.web import PASSWORD, new_email

DOCS = Path(__file__).resolve().parents[2] / "docs"
TAGS = ("checkout.summary", "search.rerank", "support.reply")
MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini")


@pytest.fixture(scope="module")
def server(pg_settings: Settings) -> Iterator[str]:
    # New workspaces get the free plan; let the test's 200 records through its rate limit.
    yield from live_server(with_plan(pg_settings, PlanTier.free, rate_per_second=1000, burst=1000))


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with chromium(chromium_path) as launched:
        yield launched


async def post_records(base: str, key: str, n: int) -> tuple[list[float], dict[str, int]]:
    """n records over HTTP, a few at a time; returns each answer's costUsd and counts per tag."""
    costs: list[float] = []
    per_tag: dict[str, int] = {}
    now = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": key}) as client:

        async def one(i: int) -> None:
            tag = TAGS[i % len(TAGS)]
            body = record(
                endpointTag=tag,
                model=MODELS[i % len(MODELS)],
                inputTokens=100 + i,
                outputTokens=20 + i % 50,
                totalTokens=120 + i + i % 50,
                latencyMs=200 + 10 * i,
                status="error" if i % 25 == 0 else "success",
                # Spread over the last 20 hours, so the charts have a shape.
                createdAt=(now - timedelta(minutes=6 * i)).isoformat(),
            )
            r = await client.post("/v1/ingest/llm-request", json=body)
            assert r.status_code == 200, r.text
            costs.append(r.json()["costUsd"])
            per_tag[tag] = per_tag.get(tag, 0) + 1

        for start in range(0, n, 10):
            await asyncio.gather(*(one(i) for i in range(start, min(n, start + 10))))
    return costs, per_tag


async def ingest_status(base: str, key: str) -> int:
    async with httpx.AsyncClient(base_url=base) as client:
        r = await client.post("/v1/ingest/llm-request", json=record(), headers={"X-API-Key": key})
        return r.status_code


async def sign_up_and_create_workspace(page: Page, base: str) -> str:
    await page.goto(f"{base}/signup")
    await page.get_by_label("Name", exact=True).fill("Grace Hopper")
    await page.get_by_label("Email", exact=True).fill(new_email())
    await page.get_by_label("Password", exact=False).fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(re.compile(r"/app/workspaces/new$"))
    await page.get_by_label("Name", exact=True).fill("Acme Shop")
    await page.get_by_role("button", name="Create workspace").click()
    await expect(page).to_have_url(re.compile(r"/app/w/[0-9a-f-]{36}/settings/keys$"))
    found = re.search(r"/app/w/([0-9a-f-]{36})/", page.url)
    assert found
    return found.group(1)


async def test_sign_up_key_ingest_dashboard_rotate(server: str, browser: Browser) -> None:
    base = server
    context = await browser.new_context(viewport={"width": 1360, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    workspace = await sign_up_and_create_workspace(page, base)

    # A key, shown once.
    await page.get_by_label("Name", exact=True).fill("checkout service")
    await page.get_by_role("button", name="Create key").click()
    secret_box = page.locator("#new-key")
    await expect(secret_box).to_be_visible()
    secret = (await secret_box.text_content() or "").strip()
    assert re.fullmatch(r"lm_live_[A-Za-z0-9]{40}", secret)
    await expect(page.locator("#keys")).to_contain_text("checkout service")
    await page.reload()
    assert secret not in await page.content()
    await expect(page.locator("#keys")).to_contain_text(f"{secret[:12]}…{secret[-4:]}")

    # 200 records over HTTP with that key.
    costs, per_tag = await post_records(base, secret, 200)

    # The dashboard shows the right totals, a chart with data and the breakdown by tag.
    await page.get_by_role("link", name="Dashboard").click()
    await expect(page.locator('[data-metric="requests"]')).to_have_text("200")
    spend = float(await page.locator('[data-metric="spend"]').get_attribute("data-value") or "0")
    assert spend == pytest.approx(sum(costs), rel=1e-6)
    charts = page.locator("[data-series]")
    await expect(charts).to_have_attribute("data-ready", "true")
    assert int(await charts.get_attribute("data-points") or "0") >= 1
    assert await page.locator("#chart-spend canvas").count() == 1
    for tag, n in per_tag.items():
        row = page.locator("#by-tag tr", has=page.locator(f'td[data-value="{tag}"]'))
        await expect(row.locator('[data-col="requests"]')).to_have_text(str(n))
    await page.wait_for_timeout(300)  # let uPlot finish painting for the screenshot
    DOCS.mkdir(exist_ok=True)
    await page.screenshot(path=str(DOCS / "dashboard.png"), full_page=True)

    # A group-by on a metadata key swaps in with htmx.
    group = page.locator("#group-by")
    await group.locator('select[name="by"]').select_option("metadata")
    await group.locator('input[name="key"]').fill("tenantId")
    await group.locator('input[name="key"]').press("Enter")
    await expect(page.locator("#group-by-table")).to_contain_text("acme")

    # Rotate with no grace: the old key stops at once, the new one works.
    await page.get_by_role("link", name="API keys").first.click()
    await page.locator("details.menu summary").first.click()
    rotate = page.locator("form[data-rotate]").first
    await rotate.locator('select[name="grace"]').select_option("none")
    await rotate.get_by_role("button", name="Rotate").click()
    await expect(page.locator("#issued-key")).to_contain_text("Key rotated")
    new_secret = (await page.locator("#new-key").text_content() or "").strip()
    assert new_secret != secret
    await page.screenshot(path=str(DOCS / "keys.png"), full_page=True)
    assert await ingest_status(base, secret) == 401
    assert await ingest_status(base, new_secret) == 200

    assert errors == []  # no JavaScript error on any page
    assert workspace in page.url
    await context.close()

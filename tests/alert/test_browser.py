"""In Chromium: create a webhook channel and a rule on the alerts page, post records that
break the rule, and see the alert on the alerts page, in the banner and at the receiver."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from playwright.async_api import Browser, expect

from llmmeter.config import PlanTier, Settings
from tests.conftest import with_plan
from tests.fixtures.factories import record
from tests.fixtures.live import chromium, live_server
from tests.fixtures.receiver import Receiver
from tests.fixtures.web import PASSWORD, new_email

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="module")
def server(pg_settings: Settings) -> Iterator[str]:
    # The worker runs inside this server, evaluating every second.
    settings = with_plan(pg_settings, PlanTier.free, rate_per_second=1000, burst=1000)
    yield from live_server(
        settings.model_copy(update={"run_worker": True, "alert_interval_seconds": 1.0})
    )


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with chromium(chromium_path) as launched:
        yield launched


async def test_rule_and_channel_from_the_page_fire_on_posted_records(
    server: str, browser: Browser, receiver: Receiver
) -> None:
    page = await (await browser.new_context(viewport={"width": 1360, "height": 900})).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    await page.goto(f"{server}/signup")
    await page.get_by_label("Email", exact=True).fill(new_email())
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await page.get_by_label("Name", exact=True).fill("Alerting Co")
    await page.get_by_role("button", name="Create workspace").click()
    await page.get_by_label("Name", exact=True).fill("svc")
    await page.get_by_role("button", name="Create key").click()
    key = (await page.locator("#new-key").text_content() or "").strip()
    workspace = re.search(r"/app/w/([0-9a-f-]{36})/", page.url)
    assert workspace

    # A webhook channel pointed at the local receiver.
    hook = f"/{uuid.uuid4().hex[:8]}/hook"
    await page.get_by_role("link", name="Alerts").click()
    form = page.locator("#channel-form")
    await form.locator('select[name="kind"]').select_option("webhook")
    await form.locator('input[name="name"]').fill("ops webhook")
    await form.locator('input[name="target"]').fill(receiver.url(hook))
    await form.get_by_role("button", name="Add channel").click()
    await expect(page.locator("#webhook-secret")).to_contain_text("whsec_")

    # A p95 rule on one endpoint tag, sent to that channel.
    await page.get_by_role("link", name="New alert rule").click()
    rule = page.locator("#rule-form")
    await rule.locator('input[name="name"]').fill("Checkout p95 over 1 s")
    await rule.locator('select[name="metric"]').select_option("latency_p95")
    await rule.locator('select[name="scope_kind"]').select_option("endpoint_tag")
    await rule.locator('input[name="scope_value"]').fill("checkout")
    await rule.locator('input[name="window"]').fill("5m")
    await rule.locator('input[name="critical"]').fill("1000")
    await rule.get_by_label("ops webhook").check()
    await rule.get_by_role("button", name="Save rule").click()
    await expect(page.locator("#rules")).to_contain_text("Checkout p95 over 1 s")

    # Slow checkout calls arrive.
    async with httpx.AsyncClient(base_url=server, headers={"X-API-Key": key}) as client:
        for _ in range(10):
            body = record(endpointTag="checkout", latencyMs=4200)
            assert (await client.post("/v1/ingest/llm-request", json=body)).status_code == 200

    # The worker fires the rule; the page shows it after a reload, with the banner.
    state = page.locator('tr[data-rule="Checkout p95 over 1 s"] [data-state]')
    for _ in range(40):
        await page.reload()
        if await state.get_attribute("data-state") == "critical":
            break
        await page.wait_for_timeout(250)
    await expect(state).to_have_attribute("data-state", "critical")
    await expect(page.locator("#alert-banner")).to_contain_text("Checkout p95 over 1 s")
    await expect(page.locator("#history")).to_contain_text("critical")
    for _ in range(40):
        if receiver.at(hook):
            break
        await page.wait_for_timeout(250)
    [sent] = receiver.at(hook)
    assert orjson.loads(sent.body)["rule"]["name"] == "Checkout p95 over 1 s"
    await page.reload()
    await expect(page.locator("#deliveries")).to_contain_text("sent")
    await page.screenshot(path=str(DOCS / "alerts.png"), full_page=True)

    # The banner follows to the dashboard.
    await page.get_by_role("link", name="Dashboard").click()
    await expect(page.locator("#alert-banner")).to_be_visible()
    assert errors == []

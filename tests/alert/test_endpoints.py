"""The alerts pages: rules and channels made in the web app, secrets shown once, roles,
the critical banner and the markers on the dashboard."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from llmmeter.alert.service import alert_service
from llmmeter.config import Settings
from llmmeter.member.roles import Role
from llmmeter.models import AlertChannel, AlertRule
from tests.alert.conftest import add_calls
from tests.fixtures.receiver import Receiver
from tests.fixtures.web import Browser, add_member

Owner = tuple[Browser, uuid.UUID]


async def add_channel(browser: Browser, ws: uuid.UUID, kind: str, target: str) -> str:
    r = await browser.post(
        f"/app/w/{ws}/alerts/channels", {"kind": kind, "name": f"{kind} ch", "target": target}
    )
    assert r.status_code == 200, r.text
    return r.text


async def test_a_webhook_secret_is_shown_once_and_urls_stay_masked(owner: Owner) -> None:
    browser, ws = owner
    url = "https://hooks.example.com/services/T000/B000/supersecretpath1234"
    page = await add_channel(browser, ws, "webhook", url)
    secret = re.search(r'id="webhook-secret">(whsec_[\w-]+)<', page)
    assert secret
    await add_channel(browser, ws, "slack", "https://hooks.slack.com/services/T1/B2/xyzSECRETabcd")
    await add_channel(browser, ws, "pagerduty", "R0UT1NGKEY0123456789abcdefABCDEF")
    later = await browser.get(f"/app/w/{ws}/alerts")
    assert secret.group(1) not in later.text
    assert "supersecretpath" not in later.text
    assert "xyzSECRET" not in later.text
    assert "R0UT1NGKEY0123456789abcdef" not in later.text
    assert "https://hooks.example.com/…1234" in later.text
    assert "R0UT…CDEF" in later.text


async def test_bad_channels_are_explained(owner: Owner) -> None:
    browser, ws = owner
    for kind, target, reason in (
        ("webhook", "ftp://x", "http(s) URL"),
        ("pagerduty", "short", "routing"),
        ("email", "not-an-address", "email address"),
        ("carrier-pigeon", "x", "webhook, slack, pagerduty or email"),
    ):
        r = await browser.post(
            f"/app/w/{ws}/alerts/channels", {"kind": kind, "name": "x", "target": target}
        )
        assert r.status_code == 422, kind
        assert reason in r.text


async def test_rules_are_created_edited_and_deleted_in_the_page(
    owner: Owner, db: AsyncSession
) -> None:
    browser, ws = owner
    await add_channel(browser, ws, "email", "oncall@example.com")
    form = await browser.get(f"/app/w/{ws}/alerts/rules/new")
    channel_id = re.search(r'name="channels" value="([^"]+)"', form.text)
    assert channel_id
    fields = {
        "name": "Spend per tenant",
        "metric": "budget_monthly",
        "scope_kind": "metadata",
        "scope_key": "tenantId",
        "scope_value": "acme",
        "budget_limit_usd": "250",
        "warning_ratio": "80%",
        "hard_stop": "on",
        "channels": channel_id.group(1),
        "enabled": "on",
    }
    bad = await browser.post(f"/app/w/{ws}/alerts/rules", {**fields, "budget_limit_usd": "lots"})
    assert bad.status_code == 422
    assert 'value="Spend per tenant"' in bad.text  # the form keeps what was typed
    r = await browser.post(f"/app/w/{ws}/alerts/rules", fields)
    assert r.status_code == 303
    rule = (await db.scalars(select(AlertRule).where(AlertRule.workspace_id == ws))).one()
    assert (float(rule.warning_threshold or 0), float(rule.critical_threshold or 0)) == (200, 250)
    assert rule.hard_stop is True
    page = await browser.get(f"/app/w/{ws}/alerts")
    assert "metadata.tenantId = acme" in page.text
    assert "hard stop" in page.text
    edit = await browser.post(
        f"/app/w/{ws}/alerts/rules/{rule.id}", {**fields, "budget_limit_usd": "300"}
    )
    assert edit.status_code == 303
    await db.refresh(rule)
    assert float(rule.critical_threshold or 0) == 300
    gone = await browser.post(f"/app/w/{ws}/alerts/rules/{rule.id}/delete")
    assert gone.status_code == 303
    assert (await browser.get(f"/app/w/{ws}/alerts/rules/{rule.id}")).status_code == 404


async def test_members_and_viewers_read_alerts_but_do_not_change_them(
    owner: Owner, db: AsyncSession
) -> None:
    browser, ws = owner
    for role in (Role.member, Role.viewer):
        email = await add_member(db, ws, role)
        async with browser.sibling().client as client:
            other = Browser(client)
            await other.sign_in(email)
            assert (await other.get(f"/app/w/{ws}/alerts")).status_code == 200
            assert (await other.get(f"/app/w/{ws}/alerts/rules/new")).status_code == 403
            r = await other.post(
                f"/app/w/{ws}/alerts/channels",
                {"kind": "email", "name": "x", "target": "a@example.com"},
            )
            assert r.status_code == 403


async def test_send_test_reaches_the_receiver_and_the_log(
    owner: Owner, receiver: Receiver, db: AsyncSession
) -> None:
    browser, ws = owner
    path = f"/{uuid.uuid4().hex[:8]}/test"
    await add_channel(browser, ws, "webhook", receiver.url(path))
    channel = (await db.scalars(select(AlertChannel).where(AlertChannel.workspace_id == ws))).one()
    r = await browser.post(f"/app/w/{ws}/alerts/channels/{channel.id}/test")
    assert r.status_code == 200
    assert "Test message delivered (response 200)" in r.text
    [got] = receiver.at(path)
    assert orjson.loads(got.body)["type"] == "test"
    assert "x-llmmeter-signature" in got.headers
    assert 'id="deliveries"' in r.text


async def test_a_critical_alert_shows_a_banner_and_markers(
    owner: Owner,
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    alert_settings: Settings,
) -> None:
    browser, ws = owner
    fields = {
        "name": "Checkout too slow",
        "metric": "latency_p95",
        "scope_kind": "endpoint_tag",
        "scope_value": "checkout",
        "window": "15m",
        "critical": "1000",
        "data_mode": "real",
        "enabled": "on",
    }
    assert (await browser.post(f"/app/w/{ws}/alerts/rules", fields)).status_code == 303
    now = datetime.now(UTC)
    await add_calls(
        db, ws, 20, latency_ms=5000, start=now - timedelta(minutes=5), span=timedelta(minutes=4)
    )
    await alert_service.evaluate_due(sessions, alert_settings, now)
    dashboard = await browser.get(f"/app/w/{ws}/?range=1h")
    assert 'id="alert-banner"' in dashboard.text
    assert "Checkout too slow" in dashboard.text
    assert 'data-alert="critical"' in dashboard.text  # on the checkout row of the tag table
    series = (await browser.get(f"/app/w/{ws}/series.json?range=1h")).json()
    assert series["markers"][0]["state"] == "critical"
    alerts = await browser.get(f"/app/w/{ws}/alerts")
    assert 'data-state="critical"' in alerts.text
    assert "5,000 ms" in alerts.text

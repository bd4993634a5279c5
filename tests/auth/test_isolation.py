"""Tenant isolation in the web app: a signed-in owner of workspace B tries every page route
with workspace A's ids. Each answers 404, and A's data never shows."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.app import create_app
from llmmeter.config import Settings
from llmmeter.models import AlertChannel, AlertRule, ApiKey, Invitation, LLMRequest, Membership
from tests.fixtures.factories import record
from tests.fixtures.web import Browser

SECRET_TAG = "tenant-a.secret-feature"


def _walk(routes: Iterable[object]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # an included router
        if included is not None:
            yield from _walk(included.routes)


def workspace_routes(settings: Settings) -> list[tuple[str, str]]:
    """Every page route under a workspace, as (method, path template)."""
    return [
        (method, route.path)
        for route in _walk(create_app(settings).routes)
        if route.path.startswith("/app/w/{workspace_id}")
        for method in sorted(route.methods - {"HEAD"})
    ]


@pytest.fixture
async def two_tenants(browser: Browser, db: AsyncSession) -> AsyncIterator[dict[str, object]]:
    # Tenant A: a workspace with a key, a stored request, an invitation and a member row.
    await browser.sign_up()
    a = await browser.create_workspace("Tenant A")
    key = await browser.create_key(a)
    sent = await browser.client.post(
        "/v1/ingest/llm-request",
        json=record(endpointTag=SECRET_TAG, dataMode="real"),
        headers={"X-API-Key": key},
    )
    await browser.post(f"/app/w/{a}/settings/invitations", {"role": "member"})
    await browser.post(
        f"/app/w/{a}/alerts/channels",
        {"kind": "webhook", "name": "a-hook", "target": "https://hooks.example/a"},
    )
    ids = {
        "workspace_id": a,
        "request_id": uuid.UUID(sent.json()["requestId"]),
        "key_id": (await db.scalars(select(ApiKey.id).where(ApiKey.workspace_id == a))).one(),
        "invitation_id": (
            await db.scalars(select(Invitation.id).where(Invitation.workspace_id == a))
        ).one(),
        "membership_id": (
            await db.scalars(select(Membership.id).where(Membership.workspace_id == a))
        ).one(),
        "channel_id": (
            await db.scalars(select(AlertChannel.id).where(AlertChannel.workspace_id == a))
        ).one(),
    }
    # Tenant B: someone else entirely, owner of their own workspace.
    other = browser.sibling()
    await other.sign_up()
    channel_id = ids["channel_id"]
    rule = await browser.post(
        f"/app/w/{a}/alerts/rules",
        {
            "name": "a-rule",
            "metric": "request_count",
            "window": "1h",
            "critical": "5",
            "channels": str(channel_id),
            "enabled": "on",
        },
    )
    assert rule.status_code == 303, rule.text
    ids["rule_id"] = (
        await db.scalars(select(AlertRule.id).where(AlertRule.workspace_id == a))
    ).one()
    ids["b"] = await other.create_workspace("Tenant B")
    ids["browser_b"] = other
    yield ids
    await other.client.aclose()


async def test_every_workspace_route_with_a_foreign_workspace_id_is_404(
    two_tenants: dict[str, object], settings: Settings
) -> None:
    b: Browser = two_tenants["browser_b"]  # type: ignore[assignment]
    routes = workspace_routes(settings)
    assert len(routes) >= 20
    for method, template in routes:
        path = template.format(**{k: v for k, v in two_tenants.items() if k.endswith("_id")})
        if method == "GET":
            r = await b.get(path)
        else:
            r = await b.post(path, {"name": "x", "role": "member", "grace": "none"})
        assert r.status_code == 404, (method, path, r.status_code)
        assert SECRET_TAG not in r.text


async def test_foreign_object_ids_in_ones_own_workspace_are_404(
    two_tenants: dict[str, object], settings: Settings, db: AsyncSession
) -> None:
    b: Browser = two_tenants["browser_b"]  # type: ignore[assignment]
    own = two_tenants["b"]
    foreign = {k: v for k, v in two_tenants.items() if k.endswith("_id")}
    foreign["workspace_id"] = own
    checked = 0
    for method, template in workspace_routes(settings):
        if "{" not in template.replace("{workspace_id}", ""):
            continue  # no object id in this route
        path = template.format(**foreign)
        if method == "GET":
            r = await b.get(path)
        else:
            r = await b.post(path, {"role": "viewer", "grace": "none", "metadata": "a=b"})
        assert r.status_code == 404, (method, path, r.status_code)
        checked += 1
    assert checked >= 7
    # Nothing of A's changed: its key still works, its row is there, its owner is still owner.
    key = await db.get(ApiKey, two_tenants["key_id"], populate_existing=True)
    assert key is not None
    assert (key.revoked_at, key.expires_at) == (None, None)
    assert await db.get(LLMRequest, two_tenants["request_id"]) is not None
    member = await db.get(Membership, two_tenants["membership_id"], populate_existing=True)
    assert member is not None
    assert member.role == "owner"
    assert await db.get(AlertRule, two_tenants["rule_id"]) is not None
    assert await db.get(AlertChannel, two_tenants["channel_id"]) is not None


async def test_tenant_b_pages_and_exports_never_show_a(two_tenants: dict[str, object]) -> None:
    b: Browser = two_tenants["browser_b"]  # type: ignore[assignment]
    own = two_tenants["b"]
    for path in (
        f"/app/w/{own}/?range=30d&mode=all",
        f"/app/w/{own}/requests?range=30d&mode=all",
        f"/app/w/{own}/requests.csv?range=30d&mode=all",
        f"/app/w/{own}/series.json?range=30d&mode=all",
        f"/app/w/{own}/partials/breakdown?range=30d&mode=all&by=endpoint_tag",
        f"/app/w/{own}/partials/movers?range=30d&mode=all",
        f"/app/w/{own}/settings/keys",
        f"/app/w/{own}/settings/members",
    ):
        r = await b.get(path)
        assert r.status_code == 200, path
        assert SECRET_TAG not in r.text
        assert str(two_tenants["request_id"]) not in r.text
    switcher = await b.get(f"/app/w/{own}/")
    assert "Tenant A" not in switcher.text
    assert not re.search(str(two_tenants["workspace_id"]), switcher.text)

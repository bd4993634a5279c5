"""API keys in the web app: shown once, rotated with a grace period, revoked; who may."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.member.roles import Role
from tests.conftest import FakeClock
from tests.fixtures.factories import record
from tests.fixtures.web import Browser, add_member

Owner = tuple[Browser, uuid.UUID]


async def ingest(client: httpx.AsyncClient, key: str) -> int:
    r = await client.post("/v1/ingest/llm-request", json=record(), headers={"X-API-Key": key})
    return r.status_code


def key_id_of(page: str, secret: str) -> str:
    marker = f"{secret[:12]}…{secret[-4:]}"
    before = page[: page.index(marker)]
    return before[before.rindex('data-key-id="') + 13 :].split('"', 1)[0]


async def test_a_new_key_is_shown_once(owner: Owner) -> None:
    browser, ws = owner
    secret = await browser.create_key(ws, "checkout")
    assert await ingest(browser.client, secret) == 200
    page = await browser.get(f"/app/w/{ws}/settings/keys")
    assert secret not in page.text
    assert f"{secret[:12]}…{secret[-4:]}" in page.text  # display prefix and last 4
    assert "checkout" in page.text


async def test_rotation_without_grace_cuts_the_old_key_at_once(owner: Owner) -> None:
    browser, ws = owner
    old = await browser.create_key(ws)
    page = await browser.get(f"/app/w/{ws}/settings/keys")
    r = await browser.post(
        f"/app/w/{ws}/settings/keys/{key_id_of(page.text, old)}/rotate", {"grace": "none"}
    )
    assert r.status_code == 200
    new = r.text[r.text.index('id="new-key">') + 13 :].split("<", 1)[0]
    assert new != old
    assert await ingest(browser.client, old) == 401
    assert await ingest(browser.client, new) == 200


async def test_rotation_with_grace_keeps_the_old_key_until_it_ends(
    owner: Owner, clock: FakeClock
) -> None:
    browser, ws = owner
    old = await browser.create_key(ws)
    page = await browser.get(f"/app/w/{ws}/settings/keys")
    r = await browser.post(
        f"/app/w/{ws}/settings/keys/{key_id_of(page.text, old)}/rotate", {"grace": "1h"}
    )
    assert r.status_code == 200
    assert await ingest(browser.client, old) == 200
    after = await browser.get(f"/app/w/{ws}/settings/keys")
    assert "expiring" in after.text
    clock.set(clock() + timedelta(hours=1, seconds=1))
    assert await ingest(browser.client, old) == 401


async def test_revoke_is_immediate(owner: Owner) -> None:
    browser, ws = owner
    secret = await browser.create_key(ws)
    page = await browser.get(f"/app/w/{ws}/settings/keys")
    r = await browser.post(f"/app/w/{ws}/settings/keys/{key_id_of(page.text, secret)}/revoke")
    assert r.status_code == 303
    assert await ingest(browser.client, secret) == 401
    assert "revoked" in (await browser.get(f"/app/w/{ws}/settings/keys")).text


async def test_key_metadata_defaults_reach_stored_rows(owner: Owner, db: AsyncSession) -> None:
    browser, ws = owner
    r = await browser.post(f"/app/w/{ws}/settings/keys", {"name": "m", "metadata": "team=payments"})
    secret = r.text[r.text.index('id="new-key">') + 13 :].split("<", 1)[0]
    body = record(metadata={})
    resp = await browser.client.post(
        "/v1/ingest/llm-request", json=body, headers={"X-API-Key": secret}
    )
    detail = await browser.get(f"/app/w/{ws}/requests/{resp.json()['requestId']}")
    assert "payments" in detail.text


@pytest.mark.parametrize(
    ("name", "metadata", "reason"),
    [("x" * 129, "", "at most 128"), ("ok", "no equals sign", "key=value")],
)
async def test_bad_key_forms_are_explained(
    owner: Owner, name: str, metadata: str, reason: str
) -> None:
    browser, ws = owner
    r = await browser.post(f"/app/w/{ws}/settings/keys", {"name": name, "metadata": metadata})
    assert r.status_code == 422
    assert reason in r.text


async def test_a_viewer_cannot_see_create_rotate_or_revoke_keys(
    owner: Owner, db: AsyncSession
) -> None:
    browser, ws = owner
    secret = await browser.create_key(ws)
    key_id = key_id_of((await browser.get(f"/app/w/{ws}/settings/keys")).text, secret)
    email = await add_member(db, ws, Role.viewer)
    viewer = browser.sibling()
    async with viewer.client:
        assert (await viewer.sign_in(email)).status_code == 303
        assert (await viewer.get(f"/app/w/{ws}/")).status_code == 200  # may read the dashboard
        assert (await viewer.get(f"/app/w/{ws}/settings/keys")).status_code == 403
        assert (await viewer.post(f"/app/w/{ws}/settings/keys", {"name": "v"})).status_code == 403
        base = f"/app/w/{ws}/settings/keys/{key_id}"
        assert (await viewer.post(f"{base}/rotate", {"grace": "none"})).status_code == 403
        assert (await viewer.post(f"{base}/revoke")).status_code == 403
        assert "API keys" not in (await viewer.get(f"/app/w/{ws}/")).text.split("<main")[0]
    assert await ingest(browser.client, secret) == 200  # untouched


async def test_a_member_may_manage_keys(owner: Owner, db: AsyncSession) -> None:
    browser, ws = owner
    email = await add_member(db, ws, Role.member)
    member = browser.sibling()
    async with member.client:
        await member.sign_in(email)
        secret = await member.create_key(ws)
        assert await ingest(member.client, secret) == 200
        # …but not the workspace's budget.
        r = await member.post(f"/app/w/{ws}/settings/budget", {"daily": "1"})
        assert r.status_code == 403

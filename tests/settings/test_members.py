"""Invitation links, roles, and the last-owner rule."""

from __future__ import annotations

import re
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.member.roles import Role
from tests.fixtures.web import Browser, add_member

Owner = tuple[Browser, uuid.UUID]
LINK = re.compile(r"http://test/invite/[A-Za-z0-9_-]+")


async def test_an_invitation_link_makes_a_member_once(owner: Owner) -> None:
    browser, ws = owner
    r = await browser.post(f"/app/w/{ws}/settings/invitations", {"role": "viewer", "note": "Dana"})
    assert r.status_code == 200
    link = LINK.search(r.text)
    assert link
    path = link.group(0).removeprefix("http://test")
    async with browser.sibling().client as client:
        guest = Browser(client)
        page = await guest.get(path)
        assert page.status_code == 200
        assert "Create account" in page.text  # not signed in yet
        await guest.sign_up()
        joined = await guest.post(path)
        assert (joined.status_code, joined.headers["location"]) == (303, f"/app/w/{ws}/")
        assert (await guest.get(f"/app/w/{ws}/")).status_code == 200
        assert (await guest.get(f"/app/w/{ws}/settings/keys")).status_code == 403  # viewer
        assert (await guest.get(path)).status_code == 404  # used up
    members = await browser.get(f"/app/w/{ws}/settings/members")
    assert members.text.count("<tr>") >= 3  # header + owner + the viewer


async def test_a_revoked_invitation_no_longer_works(owner: Owner) -> None:
    browser, ws = owner
    r = await browser.post(f"/app/w/{ws}/settings/invitations", {"role": "member"})
    link = LINK.search(r.text)
    assert link
    page = await browser.get(f"/app/w/{ws}/settings/members")
    invitation_id = re.search(r"/settings/invitations/([0-9a-f-]{36})/revoke", page.text)
    assert invitation_id
    revoked = await browser.post(
        f"/app/w/{ws}/settings/invitations/{invitation_id.group(1)}/revoke"
    )
    assert revoked.status_code == 303
    assert (await browser.get(link.group(0).removeprefix("http://test"))).status_code == 404


async def test_an_admin_cannot_make_owners_and_a_member_cannot_invite(
    owner: Owner, db: AsyncSession
) -> None:
    browser, ws = owner
    admin_email = await add_member(db, ws, Role.admin)
    member_email = await add_member(db, ws, Role.member)
    async with browser.sibling().client as client:
        admin = Browser(client)
        await admin.sign_in(admin_email)
        r = await admin.post(f"/app/w/{ws}/settings/invitations", {"role": "owner"})
        assert r.status_code == 422
        assert "only an owner" in r.text
        assert (
            await admin.post(f"/app/w/{ws}/settings/invitations", {"role": "admin"})
        ).status_code == 200
    async with browser.sibling().client as client:
        member = Browser(client)
        await member.sign_in(member_email)
        r = await member.post(f"/app/w/{ws}/settings/invitations", {"role": "viewer"})
        assert r.status_code == 403


async def test_roles_change_and_members_leave(owner: Owner, db: AsyncSession) -> None:
    browser, ws = owner
    email = await add_member(db, ws, Role.viewer)
    page = await browser.get(f"/app/w/{ws}/settings/members")
    membership = re.search(r"/settings/members/([0-9a-f-]{36})/role", page.text)
    assert membership
    mid = membership.group(1)
    assert (
        await browser.post(f"/app/w/{ws}/settings/members/{mid}/role", {"role": "member"})
    ).status_code == 303
    async with browser.sibling().client as client:
        other = Browser(client)
        await other.sign_in(email)
        assert (await other.get(f"/app/w/{ws}/settings/keys")).status_code == 200
        assert (await browser.post(f"/app/w/{ws}/settings/members/{mid}/remove")).status_code == 303
        assert (await other.get(f"/app/w/{ws}/")).status_code == 404

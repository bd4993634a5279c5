"""Roles: a workspace keeps an owner; only owners touch owners."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.auth.principal import WorkspaceScope
from llmmeter.member.roles import Permission, Role, allows
from llmmeter.member.service import LastOwner, OwnersOnly, member_service
from tests.fixtures.web import add_member, owned_workspace


async def memberships(db: AsyncSession, scope: WorkspaceScope) -> dict[str, str]:
    return {u.email: m.id for m, u in await member_service.members(db, scope)}


async def test_the_last_owner_can_neither_step_down_nor_leave(db: AsyncSession) -> None:
    workspace, owner_email = await owned_workspace(db)
    scope = WorkspaceScope(workspace.id)
    owner_id = (await memberships(db, scope))[owner_email]
    with pytest.raises(LastOwner):
        await member_service.set_role(db, scope, owner_id, Role.admin)
    with pytest.raises(LastOwner):
        await member_service.remove(db, scope, owner_id)
    second = await add_member(db, workspace.id, Role.owner)
    await member_service.set_role(db, scope, owner_id, Role.admin)  # another owner remains
    with pytest.raises(LastOwner):
        await member_service.remove(db, scope, (await memberships(db, scope))[second])


async def test_admins_cannot_touch_owners(db: AsyncSession) -> None:
    workspace, owner_email = await owned_workspace(db)
    scope = WorkspaceScope(workspace.id)
    viewer = await add_member(db, workspace.id, Role.viewer)
    ids = await memberships(db, scope)
    with pytest.raises(OwnersOnly):
        await member_service.set_role(db, scope, ids[owner_email], Role.member, actor_role="admin")
    with pytest.raises(OwnersOnly):
        await member_service.remove(db, scope, ids[owner_email], actor_role="admin")
    with pytest.raises(OwnersOnly):
        await member_service.set_role(db, scope, ids[viewer], Role.owner, actor_role="admin")
    await member_service.set_role(db, scope, ids[viewer], Role.member, actor_role="admin")


def test_permissions_by_role() -> None:
    assert all(allows(r, p) for r in ("owner", "admin") for p in Permission)
    assert allows("member", Permission.manage_keys)
    assert not allows("member", Permission.manage_workspace)
    assert allows("viewer", Permission.view)
    assert not allows("viewer", Permission.manage_keys)

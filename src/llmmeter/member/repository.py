from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.kit.tenancy import Tenant, tenant_scope
from llmmeter.models import Invitation, Membership, User, Workspace


class MemberRepository:
    async def add(self, session: AsyncSession, membership: Membership) -> None:
        session.add(membership)
        await session.flush()

    async def role_of(
        self, session: AsyncSession, user_id: uuid.UUID, workspace_id: uuid.UUID
    ) -> str | None:
        stmt = select(Membership.role).where(
            Membership.user_id == user_id, Membership.workspace_id == workspace_id
        )
        return (await session.scalars(stmt)).first()

    async def workspaces_of(
        self, session: AsyncSession, user_id: uuid.UUID
    ) -> Sequence[tuple[Workspace, str]]:
        stmt = (
            select(Workspace, Membership.role)
            .join(Membership, Membership.workspace_id == Workspace.id)
            .where(Membership.user_id == user_id)
            .order_by(Workspace.name, Workspace.id)
        )
        return [(w, r) for w, r in (await session.execute(stmt)).all()]

    async def members(
        self, session: AsyncSession, tenant: Tenant
    ) -> Sequence[tuple[Membership, User]]:
        stmt = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(tenant_scope(Membership.workspace_id, tenant))
            .order_by(Membership.created_at)
        )
        return [(m, u) for m, u in (await session.execute(stmt)).all()]

    async def get(
        self, session: AsyncSession, tenant: Tenant, membership_id: uuid.UUID
    ) -> Membership | None:
        stmt = select(Membership).where(
            tenant_scope(Membership.workspace_id, tenant), Membership.id == membership_id
        )
        return (await session.scalars(stmt)).first()

    async def count_owners(self, session: AsyncSession, tenant: Tenant) -> int:
        stmt = select(func.count()).where(
            tenant_scope(Membership.workspace_id, tenant), Membership.role == "owner"
        )
        return int(await session.scalar(stmt) or 0)

    async def delete(self, session: AsyncSession, membership: Membership) -> None:
        await session.delete(membership)
        await session.flush()

    async def unowned_workspaces(self, session: AsyncSession) -> Sequence[uuid.UUID]:
        has_member = select(Membership.id).where(Membership.workspace_id == Workspace.id)
        stmt = select(Workspace.id).where(~has_member.exists())
        return (await session.scalars(stmt)).all()

    async def add_invitation(self, session: AsyncSession, invitation: Invitation) -> None:
        session.add(invitation)
        await session.flush()

    async def invitation_by_hash(
        self, session: AsyncSession, token_hash: bytes, now: datetime
    ) -> tuple[Invitation, Workspace] | None:
        stmt = (
            select(Invitation, Workspace)
            .join(Workspace, Workspace.id == Invitation.workspace_id)
            .where(
                Invitation.token_hash == token_hash,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .with_for_update(of=Invitation)
        )
        row = (await session.execute(stmt)).first()
        return None if row is None else (row[0], row[1])

    async def open_invitations(
        self, session: AsyncSession, tenant: Tenant, now: datetime
    ) -> Sequence[Invitation]:
        stmt = (
            select(Invitation)
            .where(
                tenant_scope(Invitation.workspace_id, tenant),
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > now,
            )
            .order_by(Invitation.created_at.desc())
        )
        return (await session.scalars(stmt)).all()

    async def get_invitation(
        self, session: AsyncSession, tenant: Tenant, invitation_id: uuid.UUID
    ) -> Invitation | None:
        stmt = select(Invitation).where(
            tenant_scope(Invitation.workspace_id, tenant), Invitation.id == invitation_id
        )
        return (await session.scalars(stmt)).first()

    async def save(self, session: AsyncSession, obj: Membership | Invitation) -> None:
        session.add(obj)
        await session.flush()


member_repository = MemberRepository()

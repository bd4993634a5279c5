"""Who belongs to which workspace, with which role; invitation links."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.config import PlanTier
from llmmeter.kit.errors import AppError, FieldError, NotFound, ValidationFailed
from llmmeter.kit.tenancy import Tenant
from llmmeter.member.repository import member_repository
from llmmeter.member.roles import Role
from llmmeter.models import Invitation, Membership, User, Workspace
from llmmeter.workspace.service import workspace_service

INVITATION_LIFETIME = timedelta(days=7)


class LastOwner(AppError):
    status_code = 409
    reason = "last_owner"
    message = "A workspace keeps at least one owner."


class OwnersOnly(AppError):
    status_code = 403
    reason = "forbidden"
    message = "Only an owner can make, change or remove an owner."


@dataclass(frozen=True, slots=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # in the link; shown once, only its digest is stored


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class MemberService:
    async def create_workspace(
        self,
        session: AsyncSession,
        owner: User,
        name: str,
        plan: PlanTier,
        time_zone: str = "UTC",
    ) -> Workspace:
        workspace = await workspace_service.create(session, name, plan, time_zone=time_zone)
        await member_repository.add(
            session, Membership(workspace_id=workspace.id, user_id=owner.id, role=Role.owner)
        )
        return workspace

    async def role_of(
        self, session: AsyncSession, user_id: uuid.UUID, workspace_id: uuid.UUID
    ) -> str | None:
        return await member_repository.role_of(session, user_id, workspace_id)

    async def workspaces_of(
        self, session: AsyncSession, user_id: uuid.UUID
    ) -> Sequence[tuple[Workspace, str]]:
        return await member_repository.workspaces_of(session, user_id)

    async def adopt_unowned(self, session: AsyncSession, user: User) -> int:
        """The first user of an installation owns the workspaces made before anyone signed
        up (the embedded default's, the CLI's)."""
        ids = await member_repository.unowned_workspaces(session)
        for workspace_id in ids:
            await member_repository.add(
                session, Membership(workspace_id=workspace_id, user_id=user.id, role=Role.owner)
            )
        return len(ids)

    async def members(
        self, session: AsyncSession, tenant: Tenant
    ) -> Sequence[tuple[Membership, User]]:
        return await member_repository.members(session, tenant)

    async def set_role(
        self,
        session: AsyncSession,
        tenant: Tenant,
        membership_id: uuid.UUID,
        role: Role,
        *,
        actor_role: str = Role.owner,
    ) -> Membership:
        membership = await self._get(session, tenant, membership_id)
        if Role.owner in (membership.role, role) and actor_role != Role.owner:
            raise OwnersOnly()
        if membership.role == Role.owner and role != Role.owner:
            await self._keep_an_owner(session, tenant)
        membership.role = role.value
        await member_repository.save(session, membership)
        return membership

    async def remove(
        self,
        session: AsyncSession,
        tenant: Tenant,
        membership_id: uuid.UUID,
        *,
        actor_role: str = Role.owner,
    ) -> None:
        membership = await self._get(session, tenant, membership_id)
        if membership.role == Role.owner and actor_role != Role.owner:
            raise OwnersOnly()
        if membership.role == Role.owner:
            await self._keep_an_owner(session, tenant)
        await member_repository.delete(session, membership)

    async def invite(
        self,
        session: AsyncSession,
        workspace_id: uuid.UUID,
        role: Role,
        inviter: User,
        now: datetime,
        note: str = "",
    ) -> IssuedInvitation:
        if len(note) > 128:
            raise ValidationFailed([FieldError(["note"], "use at most 128 characters")])
        token = secrets.token_urlsafe(24)
        invitation = Invitation(
            workspace_id=workspace_id,
            token_hash=_digest(token),
            role=role.value,
            note=note.strip(),
            created_by_id=inviter.id,
            expires_at=now + INVITATION_LIFETIME,
        )
        await member_repository.add_invitation(session, invitation)
        return IssuedInvitation(invitation, token)

    async def open_invitations(
        self, session: AsyncSession, tenant: Tenant, now: datetime
    ) -> Sequence[Invitation]:
        return await member_repository.open_invitations(session, tenant, now)

    async def revoke_invitation(
        self, session: AsyncSession, tenant: Tenant, invitation_id: uuid.UUID, now: datetime
    ) -> None:
        invitation = await member_repository.get_invitation(session, tenant, invitation_id)
        if invitation is None:
            raise NotFound("No such invitation.")
        invitation.revoked_at = now
        await member_repository.save(session, invitation)

    async def pending(
        self, session: AsyncSession, token: str, now: datetime
    ) -> tuple[Invitation, Workspace]:
        found = await member_repository.invitation_by_hash(session, _digest(token), now)
        if found is None:
            raise NotFound("This invitation link is unknown, used or expired.")
        return found

    async def accept(
        self, session: AsyncSession, token: str, user: User, now: datetime
    ) -> Workspace:
        invitation, workspace = await self.pending(session, token, now)
        invitation.accepted_at = now
        invitation.accepted_by_id = user.id
        await member_repository.save(session, invitation)
        if await member_repository.role_of(session, user.id, workspace.id) is None:
            await member_repository.add(
                session,
                Membership(workspace_id=workspace.id, user_id=user.id, role=invitation.role),
            )
        return workspace

    async def _get(
        self, session: AsyncSession, tenant: Tenant, membership_id: uuid.UUID
    ) -> Membership:
        membership = await member_repository.get(session, tenant, membership_id)
        if membership is None:
            raise NotFound("No such member.")
        return membership

    async def _keep_an_owner(self, session: AsyncSession, tenant: Tenant) -> None:
        if await member_repository.count_owners(session, tenant) <= 1:
            raise LastOwner()


member_service = MemberService()

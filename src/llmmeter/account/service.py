"""Account flows that span users, sessions and memberships: first-run set-up, sign-up,
sign-in, where to land, password change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.auth.service import SignedIn, web_session_service
from llmmeter.config import PlanTier
from llmmeter.kit.errors import AppError
from llmmeter.member.service import member_service
from llmmeter.models import User, Workspace
from llmmeter.user.service import user_service


class AlreadySetUp(AppError):
    status_code = 409
    reason = "already_set_up"
    message = "This installation already has users; sign in instead."


class SignUpClosed(AppError):
    status_code = 403
    reason = "sign_up_closed"
    message = "Sign-up is closed here; ask a workspace owner for an invitation link."


@dataclass(frozen=True, slots=True)
class Client:
    address: str
    user_agent: str | None


class AccountService:
    async def needs_setup(self, session: AsyncSession) -> bool:
        return await user_service.count(session) == 0

    async def setup(
        self,
        session: AsyncSession,
        *,
        email: str,
        password: str,
        name: str,
        workspace_name: str,
        plan: PlanTier,
        now: datetime,
    ) -> tuple[User, uuid.UUID]:
        if not await self.needs_setup(session):
            raise AlreadySetUp()
        user = await user_service.sign_up(session, email, password, name, now)
        if await member_service.adopt_unowned(session, user) == 0:
            await member_service.create_workspace(session, user, workspace_name, plan)
        workspaces = await member_service.workspaces_of(session, user.id)
        return user, workspaces[0][0].id

    async def sign_up(
        self,
        session: AsyncSession,
        *,
        email: str,
        password: str,
        name: str,
        allowed: bool,
        now: datetime,
    ) -> User:
        if not allowed:
            raise SignUpClosed()
        return await user_service.sign_up(session, email, password, name, now)

    async def sign_in(
        self, session: AsyncSession, email: str, password: str, client: Client, now: datetime
    ) -> User:
        return await user_service.authenticate(session, email, password, client.address, now)

    async def start_session(
        self, session: AsyncSession, user: User, client: Client, now: datetime
    ) -> str:
        return await web_session_service.start(
            session, user, now, address=client.address, user_agent=client.user_agent
        )

    async def sign_out(self, session: AsyncSession, signed_in: SignedIn, now: datetime) -> None:
        await web_session_service.end(session, signed_in.web_session, now)

    async def change_password(
        self, session: AsyncSession, signed_in: SignedIn, current: str, new: str, now: datetime
    ) -> None:
        """Every other browser signed in as this user is signed out."""
        await user_service.change_password(session, signed_in.user, current, new, now)
        await web_session_service.end_others(session, signed_in, now)

    async def landing(self, session: AsyncSession, user: User) -> str:
        workspaces = await member_service.workspaces_of(session, user.id)
        if not workspaces:
            return "/app/workspaces/new"
        return f"/app/w/{workspaces[0][0].id}/"

    async def workspaces(self, session: AsyncSession, user: User) -> list[tuple[Workspace, str]]:
        return list(await member_service.workspaces_of(session, user.id))


account_service = AccountService()

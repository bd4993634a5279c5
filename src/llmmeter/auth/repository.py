from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.models import User, WebSession


class WebSessionRepository:
    async def add(self, session: AsyncSession, web_session: WebSession) -> None:
        session.add(web_session)
        await session.flush()

    async def find(
        self, session: AsyncSession, token_hash: bytes, now: datetime
    ) -> tuple[WebSession, User] | None:
        stmt = (
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(
                WebSession.token_hash == token_hash,
                WebSession.revoked_at.is_(None),
                WebSession.expires_at > now,
            )
        )
        row = (await session.execute(stmt)).first()
        return None if row is None else (row[0], row[1])

    async def save(self, session: AsyncSession, web_session: WebSession) -> None:
        session.add(web_session)
        await session.flush()

    async def revoke_for_user(
        self, session: AsyncSession, user_id: uuid.UUID, now: datetime, keep: uuid.UUID | None
    ) -> None:
        stmt = update(WebSession).where(
            WebSession.user_id == user_id, WebSession.revoked_at.is_(None)
        )
        if keep is not None:
            stmt = stmt.where(WebSession.id != keep)
        await session.execute(stmt.values(revoked_at=now))


web_session_repository = WebSessionRepository()

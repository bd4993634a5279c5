"""Browser sessions: a random cookie token, kept server-side as a SHA-256 digest, so that
sign-out and a password change revoke it at once."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.auth.repository import web_session_repository
from llmmeter.models import User, WebSession

SESSION_LIFETIME = timedelta(days=30)
IDLE_TIMEOUT = timedelta(days=7)
# last_seen_at is written at most this often, not on every page view.
TOUCH_EVERY = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class SignedIn:
    web_session: WebSession
    user: User


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class WebSessionService:
    async def start(
        self,
        session: AsyncSession,
        user: User,
        now: datetime,
        *,
        address: str | None = None,
        user_agent: str | None = None,
    ) -> str:
        token = secrets.token_urlsafe(32)
        await web_session_repository.add(
            session,
            WebSession(
                user_id=user.id,
                token_hash=token_hash(token),
                created_at=now,
                last_seen_at=now,
                expires_at=now + SESSION_LIFETIME,
                address=(address or "")[:64] or None,
                user_agent=(user_agent or "")[:256] or None,
            ),
        )
        return token

    async def resolve(
        self, session: AsyncSession, token: str | None, now: datetime
    ) -> SignedIn | None:
        if not token or len(token) > 128:
            return None
        found = await web_session_repository.find(session, token_hash(token), now)
        if found is None:
            return None
        web_session, user = found
        if now - web_session.last_seen_at > IDLE_TIMEOUT:
            return None
        if now - web_session.last_seen_at > TOUCH_EVERY:
            web_session.last_seen_at = now
            await web_session_repository.save(session, web_session)
        return SignedIn(web_session, user)

    async def end(self, session: AsyncSession, web_session: WebSession, now: datetime) -> None:
        web_session.revoked_at = now
        await web_session_repository.save(session, web_session)

    async def end_others(self, session: AsyncSession, signed_in: SignedIn, now: datetime) -> None:
        await web_session_repository.revoke_for_user(
            session, signed_in.user.id, now, keep=signed_in.web_session.id
        )


web_session_service = WebSessionService()

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.models import SignInFailure, User


class UserRepository:
    async def add(self, session: AsyncSession, user: User) -> User:
        session.add(user)
        await session.flush()
        return user

    async def by_email(self, session: AsyncSession, email: str) -> User | None:
        return (await session.scalars(select(User).where(User.email == email))).first()

    async def count(self, session: AsyncSession) -> int:
        return int(await session.scalar(select(func.count()).select_from(User)) or 0)

    async def save(self, session: AsyncSession, user: User) -> None:
        session.add(user)
        await session.flush()

    async def add_failure(self, session: AsyncSession, failure: SignInFailure) -> None:
        session.add(failure)
        await session.flush()

    async def failures_since(
        self, session: AsyncSession, email: str, address: str, since: datetime
    ) -> tuple[int, int]:
        recent = SignInFailure.failed_at >= since
        stmt = select(
            func.count().filter(SignInFailure.email == email),
            func.count().filter(SignInFailure.address == address),
        ).where(recent, or_(SignInFailure.email == email, SignInFailure.address == address))
        by_email, by_address = (await session.execute(stmt)).one()
        return int(by_email), int(by_address)

    async def clear_failures(self, session: AsyncSession, email: str, before: datetime) -> None:
        await session.execute(
            delete(SignInFailure).where(
                or_(SignInFailure.email == email, SignInFailure.failed_at < before)
            )
        )


user_repository = UserRepository()

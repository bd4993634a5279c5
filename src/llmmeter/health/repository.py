from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


class HealthRepository:
    async def ping(self, session: AsyncSession) -> None:
        await session.execute(text("SELECT 1"))


health_repository = HealthRepository()

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.kit.dialect import upsert_insert
from llmmeter.models import WorkspaceUsage


class UsageRepository:
    async def add_requests(
        self, session: AsyncSession, workspace_id: uuid.UUID, period: date, count: int
    ) -> int:
        stmt = upsert_insert(session, WorkspaceUsage).values(
            workspace_id=workspace_id, period_start_date=period, request_count=count
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[WorkspaceUsage.workspace_id, WorkspaceUsage.period_start_date],
            set_={"request_count": WorkspaceUsage.request_count + stmt.excluded.request_count},
        ).returning(WorkspaceUsage.request_count)
        return int((await session.execute(stmt)).scalar_one())

    async def requests(self, session: AsyncSession, workspace_id: uuid.UUID, period: date) -> int:
        stmt = select(WorkspaceUsage.request_count).where(
            WorkspaceUsage.workspace_id == workspace_id,
            WorkspaceUsage.period_start_date == period,
        )
        return int(await session.scalar(stmt) or 0)


usage_repository = UsageRepository()

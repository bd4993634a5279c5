from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.kit.tenancy import Tenant, tenant_scope
from llmmeter.models import Workspace


class WorkspaceRepository:
    async def add(self, session: AsyncSession, workspace: Workspace) -> Workspace:
        session.add(workspace)
        await session.flush()
        return workspace

    async def get(self, session: AsyncSession, tenant: Tenant) -> Workspace | None:
        stmt = select(Workspace).where(tenant_scope(Workspace.id, tenant))
        return (await session.scalars(stmt)).first()

    async def count(self, session: AsyncSession) -> int:
        return int(await session.scalar(select(func.count()).select_from(Workspace)) or 0)

    async def set_scoped_budgets(
        self, session: AsyncSession, tenant: Tenant, entries: list[dict[str, Any]]
    ) -> None:
        stmt = (
            update(Workspace)
            .where(tenant_scope(Workspace.id, tenant))
            .values(scoped_budgets=entries)
            .execution_options(synchronize_session=False)
        )
        await session.execute(stmt)

    async def save(self, session: AsyncSession, workspace: Workspace) -> None:
        session.add(workspace)
        await session.flush()


workspace_repository = WorkspaceRepository()

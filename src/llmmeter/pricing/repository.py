from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.kit.tenancy import Tenant, tenant_scope
from llmmeter.models import PriceOverride, Workspace


class PriceOverrideRepository:
    async def list_for(self, session: AsyncSession, tenant: Tenant) -> Sequence[PriceOverride]:
        stmt = (
            select(PriceOverride)
            .where(tenant_scope(PriceOverride.workspace_id, tenant))
            .order_by(PriceOverride.provider, PriceOverride.model, PriceOverride.effective_at)
        )
        return (await session.scalars(stmt)).all()

    async def add(self, session: AsyncSession, override: PriceOverride) -> PriceOverride:
        session.add(override)
        await session.flush()
        await self._bump_version(session, override.workspace_id)
        return override

    async def _bump_version(self, session: AsyncSession, workspace_id: uuid.UUID) -> None:
        await session.execute(
            update(Workspace)
            .where(Workspace.id == workspace_id)
            .values(pricing_version=Workspace.pricing_version + 1)
        )


price_override_repository = PriceOverrideRepository()

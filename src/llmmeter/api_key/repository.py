from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.api_key.cache import NEUTRAL
from llmmeter.kit.tenancy import Tenant, tenant_scope
from llmmeter.models import ApiKey, Workspace


@dataclass(slots=True)
class IngestKeyRow:
    key_id: uuid.UUID
    workspace_id: uuid.UUID
    mode: str
    key_metadata: dict[str, str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    plan_tier: str
    time_zone: str
    pricing_version: int
    workspace_metadata: dict[str, str]
    budget_daily_usd: Decimal | None
    budget_monthly_usd: Decimal | None
    budget_warning_ratio: Decimal
    budget_policy: str
    scoped_budgets: list[dict[str, Any]] | None


class ApiKeyRepository:
    async def find_for_ingest(self, session: AsyncSession, key_hash: bytes) -> IngestKeyRow | None:
        stmt = (
            select(
                ApiKey.id.label("key_id"),
                ApiKey.workspace_id,
                ApiKey.mode,
                ApiKey.metadata_defaults.label("key_metadata"),
                ApiKey.expires_at,
                ApiKey.revoked_at,
                ApiKey.last_used_at,
                Workspace.plan_tier,
                Workspace.time_zone,
                Workspace.pricing_version,
                Workspace.metadata_defaults.label("workspace_metadata"),
                Workspace.budget_daily_usd,
                Workspace.budget_monthly_usd,
                Workspace.budget_warning_ratio,
                Workspace.budget_policy,
                Workspace.scoped_budgets,
            )
            .join(Workspace, Workspace.id == ApiKey.workspace_id)
            .where(ApiKey.key_hash == key_hash)
        )
        row = (await session.execute(stmt)).first()
        return None if row is None else IngestKeyRow(**row._mapping)

    async def touch(
        self, session: AsyncSession, key_id: uuid.UUID, now: datetime, older_than: datetime
    ) -> None:
        # SKIP LOCKED: when another request is already stamping this key, leave it to that one
        # instead of queueing every request of a burst behind one row lock. NO KEY UPDATE (not
        # UPDATE): the foreign-key checks of concurrent inserts share-lock this row, and a
        # full row lock would deadlock with them.
        stale = (
            select(ApiKey.id)
            .where(
                ApiKey.id == key_id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < older_than),
            )
            .with_for_update(skip_locked=True, key_share=True)
            .scalar_subquery()
        )
        await session.execute(
            update(ApiKey).where(ApiKey.id == stale).values(last_used_at=now),
            execution_options={NEUTRAL: True},
        )

    async def add(self, session: AsyncSession, key: ApiKey) -> ApiKey:
        session.add(key)
        await session.flush()
        return key

    async def list_for(self, session: AsyncSession, tenant: Tenant) -> Sequence[ApiKey]:
        stmt = (
            select(ApiKey)
            .where(tenant_scope(ApiKey.workspace_id, tenant))
            .order_by(ApiKey.created_at.desc())
        )
        return (await session.scalars(stmt)).all()

    async def get(self, session: AsyncSession, tenant: Tenant, key_id: uuid.UUID) -> ApiKey | None:
        stmt = select(ApiKey).where(tenant_scope(ApiKey.workspace_id, tenant), ApiKey.id == key_id)
        return (await session.scalars(stmt)).first()

    async def ids_created_by(
        self, session: AsyncSession, tenant: Tenant, user_id: uuid.UUID
    ) -> Sequence[uuid.UUID]:
        stmt = select(ApiKey.id).where(
            tenant_scope(ApiKey.workspace_id, tenant), ApiKey.created_by_id == user_id
        )
        return (await session.scalars(stmt)).all()

    async def save(self, session: AsyncSession, key: ApiKey) -> None:
        session.add(key)
        await session.flush()


api_key_repository = ApiKeyRepository()

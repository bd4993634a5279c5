from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.kit.dialect import upsert_insert
from llmmeter.kit.tenancy import Tenant, tenant_scope
from llmmeter.models import LLMRequest

_table = cast(Table, LLMRequest.__table__)


@dataclass(slots=True)
class StoredCall:
    id: uuid.UUID
    status: str
    fingerprint: bytes
    cost_nano_usd: int
    pricing_status: str
    attempts: int


class LLMRequestRepository:
    async def insert_new(self, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Inserts the rows whose (workspace, externalRequestId) is free; returns their ids.

        The unique constraint decides, so concurrent duplicates cannot both get in.
        """
        if not rows:
            return set()
        stmt = (
            upsert_insert(session, _table)
            .on_conflict_do_nothing(index_elements=["workspace_id", "external_request_id"])
            .returning(_table.c.external_request_id)
        )
        result = await session.execute(stmt, list(rows))
        return set(result.scalars().all())

    async def lock_existing(
        self, session: AsyncSession, tenant: Tenant, external_ids: Sequence[str]
    ) -> dict[str, StoredCall]:
        # Sorted, so that two transactions lock shared rows in the same order.
        stmt = (
            select(
                LLMRequest.external_request_id,
                LLMRequest.id,
                LLMRequest.status,
                LLMRequest.fingerprint,
                LLMRequest.cost_nano_usd,
                LLMRequest.pricing_status,
                LLMRequest.attempts,
            )
            .where(
                tenant_scope(LLMRequest.workspace_id, tenant),
                LLMRequest.external_request_id.in_(sorted(set(external_ids))),
            )
            .order_by(LLMRequest.external_request_id)
            .with_for_update()
        )
        rows = (await session.execute(stmt)).all()
        return {r[0]: StoredCall(*r[1:]) for r in rows}

    async def delete(
        self, session: AsyncSession, tenant: Tenant, row_ids: Sequence[uuid.UUID]
    ) -> None:
        stmt = delete(_table).where(
            tenant_scope(LLMRequest.workspace_id, tenant), _table.c.id.in_(row_ids)
        )
        await session.execute(stmt)

    async def replace(
        self, session: AsyncSession, tenant: Tenant, row_id: uuid.UUID, values: dict[str, Any]
    ) -> None:
        stmt = (
            update(_table)
            .where(tenant_scope(LLMRequest.workspace_id, tenant), _table.c.id == row_id)
            .values(**values)
        )
        await session.execute(stmt)


llm_request_repository = LLMRequestRepository()

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import cast

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.kit.dialect import is_postgresql, psycopg_connection, upsert_insert
from llmmeter.kit.tenancy import Tenant, tenant_scope
from llmmeter.models import UsageCounter

MONTH = "month"
DAY = "day"


@dataclass(frozen=True, slots=True)
class Counts:
    requests: int = 0
    cost_nano_usd: int = 0


# Month first, then day: always in this order, so concurrent writers cannot deadlock. The
# month's row is only updated within the quota (`request_limit`, NULL for none); a row that
# does not exist yet is created with what is added (callers add at most the limit).
_ON_CONFLICT_ADD = (
    " ON CONFLICT (workspace_id, period, period_start_date) DO UPDATE SET"
    " request_count = usage_counters.request_count + excluded.request_count,"
    " cost_nano_usd = usage_counters.cost_nano_usd + excluded.cost_nano_usd"
    f" WHERE usage_counters.period <> '{MONTH}' OR %(request_limit)s::int8 IS NULL"
    " OR usage_counters.request_count + excluded.request_count <= %(request_limit)s::int8"
    " RETURNING period, request_count, cost_nano_usd"
)
_PG_ADD_MONTH_AND_DAY = (
    "INSERT INTO usage_counters"
    " (workspace_id, period, period_start_date, request_count, cost_nano_usd)"
    f" VALUES (%(workspace_id)s, '{MONTH}', %(month)s, %(requests)s, %(cost)s),"
    f" (%(workspace_id)s, '{DAY}', %(day)s, %(requests)s, %(cost)s)" + _ON_CONFLICT_ADD
)


def add_month_and_day_from(source: str) -> str:
    """The same counter update as a statement to put in a WITH clause, adding the `n` calls
    and `cost` of the one-row query `source` (nothing when n is 0). For the ingest insert, so
    that a write counts its calls without a round trip of its own."""
    return (
        "INSERT INTO usage_counters"
        " (workspace_id, period, period_start_date, request_count, cost_nano_usd)"
        " SELECT %(workspace_id)s::uuid, p.period, p.start_date, s.n, s.cost"
        f" FROM {source} AS s CROSS JOIN (VALUES (1, '{MONTH}', %(month)s::date),"
        f" (2, '{DAY}', %(day)s::date)) AS p(position, period, start_date)"
        " WHERE s.n > 0 ORDER BY p.position" + _ON_CONFLICT_ADD
    )


class UsageRepository:
    async def add(
        self,
        session: AsyncSession,
        workspace_id: uuid.UUID,
        period: str,
        start: date,
        counts: Counts,
    ) -> Counts:
        """Adds (or, with negative counts, takes back) to one period's counters."""
        stmt = upsert_insert(session, UsageCounter).values(
            workspace_id=workspace_id,
            period=period,
            period_start_date=start,
            request_count=counts.requests,
            cost_nano_usd=counts.cost_nano_usd,
        )
        table = UsageCounter.__table__.c
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.workspace_id, table.period, table.period_start_date],
            set_={
                "request_count": table.request_count + stmt.excluded.request_count,
                "cost_nano_usd": table.cost_nano_usd + stmt.excluded.cost_nano_usd,
            },
        ).returning(table.request_count, table.cost_nano_usd)
        n, cost = (await session.execute(stmt)).one()
        return Counts(int(n), int(cost))

    async def add_month_and_day(
        self,
        session: AsyncSession,
        workspace_id: uuid.UUID,
        month: date,
        day: date,
        counts: Counts,
        *,
        request_limit: int | None,
    ) -> dict[str, Counts]:
        """Adds to both periods in one statement (the rows stay locked until commit, so one
        round trip fewer matters). The month row is skipped if it would pass the limit: then
        only the day comes back."""
        if is_postgresql(session):
            return await self._add_month_and_day_pg(
                session, workspace_id, month, day, counts, request_limit
            )
        base = upsert_insert(session, UsageCounter)
        rows = [
            {
                "workspace_id": workspace_id,
                "period": period,
                "period_start_date": start,
                "request_count": counts.requests,
                "cost_nano_usd": counts.cost_nano_usd,
            }
            for period, start in ((MONTH, month), (DAY, day))  # always in this order: no deadlock
        ]
        stmt = base.values(rows)
        table = UsageCounter.__table__.c
        within = (
            or_(
                table.period != MONTH,
                table.request_count + stmt.excluded.request_count <= request_limit,
            )
            if request_limit is not None
            else None
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.workspace_id, table.period, table.period_start_date],
            set_={
                "request_count": table.request_count + stmt.excluded.request_count,
                "cost_nano_usd": table.cost_nano_usd + stmt.excluded.cost_nano_usd,
            },
            where=within,
        ).returning(table.period, table.request_count, table.cost_nano_usd)
        result = (await session.execute(stmt)).all()
        return {period: Counts(int(n), int(cost)) for period, n, cost in result}

    async def _add_month_and_day_pg(
        self,
        session: AsyncSession,
        workspace_id: uuid.UUID,
        month: date,
        day: date,
        counts: Counts,
        request_limit: int | None,
    ) -> dict[str, Counts]:
        # The same statement as above, written out: it runs in every ingest transaction, and
        # building and compiling it through the ORM cost more CPU than PostgreSQL spends on it.
        raw = await psycopg_connection(session)
        async with raw.cursor() as cursor:
            await cursor.execute(
                _PG_ADD_MONTH_AND_DAY,
                {
                    "workspace_id": workspace_id,
                    "month": month,
                    "day": day,
                    "requests": counts.requests,
                    "cost": counts.cost_nano_usd,
                    "request_limit": request_limit,
                },
            )
            rows = cast("list[tuple[str, int, int]]", await cursor.fetchall())
        return {period: Counts(int(n), int(cost)) for period, n, cost in rows}

    async def lock(
        self, session: AsyncSession, workspace_id: uuid.UUID, period: str, start: date
    ) -> Counts:
        stmt = (
            select(UsageCounter.request_count, UsageCounter.cost_nano_usd)
            .where(
                UsageCounter.workspace_id == workspace_id,
                UsageCounter.period == period,
                UsageCounter.period_start_date == start,
            )
            .with_for_update()
        )
        row = (await session.execute(stmt)).first()
        return Counts() if row is None else Counts(int(row[0]), int(row[1]))

    async def read(
        self, session: AsyncSession, tenant: Tenant, month: date, day: date
    ) -> dict[str, Counts]:
        stmt = select(
            UsageCounter.period, UsageCounter.request_count, UsageCounter.cost_nano_usd
        ).where(
            tenant_scope(UsageCounter.workspace_id, tenant),
            or_(
                and_(UsageCounter.period == MONTH, UsageCounter.period_start_date == month),
                and_(UsageCounter.period == DAY, UsageCounter.period_start_date == day),
            ),
        )
        rows = (await session.execute(stmt)).all()
        return {period: Counts(int(n), int(cost)) for period, n, cost in rows}


usage_repository = UsageRepository()

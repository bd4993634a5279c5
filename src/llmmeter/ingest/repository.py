from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson
from psycopg.types.json import Jsonb
from sqlalchemy import Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.kit.dialect import is_postgresql, psycopg_connection, upsert_insert
from llmmeter.kit.tenancy import Tenant, tenant_scope
from llmmeter.models import LLMRequest
from llmmeter.plan.repository import add_month_and_day_from

_table = cast(Table, LLMRequest.__table__)

# PostgreSQL: one short statement whatever the number of rows (the rows go as data). A
# multi-row VALUES list makes a statement as long as the batch, which psycopg re-parses on
# every call (statements over 4 KB skip its cache); that was half of a batch's CPU time.
_PG_COLUMNS = (
    ("id", "uuid"),
    ("workspace_id", "uuid"),
    ("api_key_id", "uuid"),
    ("external_request_id", "text"),
    ("provider", "text"),
    ("model", "text"),
    ("status", "text"),
    ("error_code", "text"),
    ("input_tokens", "int8"),
    ("output_tokens", "int8"),
    ("total_tokens", "int8"),
    ("cached_input_tokens", "int8"),
    ("reasoning_tokens", "int8"),
    ("latency_ms", "int4"),
    ("prompt_version", "text"),
    ("endpoint_tag", "text"),
    ("user_id", "text"),
    ("tenant_id", "text"),
    ("feature_tag", "text"),
    ("data_mode", "text"),
    ("environment", "text"),
    ("metadata", "jsonb"),
    ("created_at", "timestamptz"),
    ("received_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("cost_nano_usd", "int8"),
    ("pricing_status", "text"),
    ("price_snapshot", "jsonb"),
    ("attempts", "int4"),
    ("fingerprint", "bytea"),
)
_COLUMN_LIST = ", ".join(name for name, _ in _PG_COLUMNS)
# Small batches (a group commit of single records, a short batch request): every row in one
# JSON document, encoded by orjson in C and decoded by PostgreSQL in C. Per-column arrays cost
# psycopg a pure-Python walk over every value. The fingerprint travels as hex.
_PG_INSERT_ROWS = (
    f"INSERT INTO llm_requests ({_COLUMN_LIST}) SELECT "
    + ", ".join(
        "decode(r.fingerprint, 'hex')" if kind == "bytea" else f"r.{name}"
        for name, kind in _PG_COLUMNS
    )
    + " FROM json_to_recordset(%(rows)s::json) AS r("
    + ", ".join(f"{name} {'text' if kind == 'bytea' else kind}" for name, kind in _PG_COLUMNS)
    + ") ON CONFLICT (workspace_id, external_request_id) DO NOTHING"
)
_PG_INSERT = _PG_INSERT_ROWS + " RETURNING external_request_id"
# The insert and the month's and day's counters in one statement: the rows inserted are
# counted by PostgreSQL (their number and cost), one round trip instead of two.
_PG_INSERT_COUNTED = (
    f"WITH inserted AS ({_PG_INSERT_ROWS} RETURNING external_request_id, cost_nano_usd),"
    " added AS (SELECT count(*) AS n, coalesce(sum(cost_nano_usd), 0)::int8 AS cost"
    " FROM inserted),"
    f" counted AS ({add_month_and_day_from('added')})"
    " SELECT external_request_id, NULL::text, NULL::int8, NULL::int8 FROM inserted"
    " UNION ALL SELECT NULL, period::text, request_count, cost_nano_usd FROM counted"
)
_BYTEA = tuple(name for name, kind in _PG_COLUMNS if kind == "bytea")


def _json_rows(rows: Sequence[dict[str, Any]]) -> str:
    document = [
        {
            **{name: row.get(name) for name, _ in _PG_COLUMNS},
            **{name: row[name].hex() for name in _BYTEA if row.get(name) is not None},
        }
        for row in rows
    ]
    return orjson.dumps(document).decode()


# Large batches: binary COPY into a per-connection staging table (psycopg's C code encodes the
# rows), then one INSERT … SELECT from it. Small ones: the array statement (no extra trips).
COPY_FROM_ROWS = 50
_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS llm_requests_staging"
    " (LIKE llm_requests INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_FROM_STAGING = (
    f"INSERT INTO llm_requests ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM llm_requests_staging"
    " ON CONFLICT (workspace_id, external_request_id) DO NOTHING"
    " RETURNING external_request_id"
)


def _json(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value, dumps=_dumps)


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


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
        if is_postgresql(session) and len(rows) >= COPY_FROM_ROWS:
            return await self._copy_insert(session, rows)
        if is_postgresql(session):
            raw = await psycopg_connection(session)
            async with raw.cursor() as cursor:
                await cursor.execute(_PG_INSERT, {"rows": _json_rows(rows)})
                return {r[0] for r in await cursor.fetchall()}
        stmt = (
            upsert_insert(session, _table)
            .on_conflict_do_nothing(index_elements=["workspace_id", "external_request_id"])
            .returning(_table.c.external_request_id)
        )
        result = await session.execute(stmt, list(rows))
        return set(result.scalars().all())

    async def insert_new_counted(
        self, session: AsyncSession, rows: Sequence[dict[str, Any]], counters: dict[str, Any]
    ) -> tuple[set[str], dict[str, tuple[int, int]]]:
        """PostgreSQL: `insert_new`, and the calls it inserted added to the usage counters in
        the same statement (`counters`: workspace_id, month, day, request_limit, as for the
        plan's counter update). Returns the ids inserted and the counters updated, by period
        (none when nothing was inserted; no month when it would have passed the limit)."""
        raw = await psycopg_connection(session)
        async with raw.cursor() as cursor:
            await cursor.execute(_PG_INSERT_COUNTED, {"rows": _json_rows(rows), **counters})
            result = await cursor.fetchall()
        inserted = {ext for ext, period, _, _ in result if period is None}
        counted = {period: (n, cost) for _, period, n, cost in result if period is not None}
        return inserted, counted

    async def _copy_insert(self, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> set[str]:
        raw = await psycopg_connection(session)
        async with raw.cursor() as cursor:
            await cursor.execute(_STAGING)
            async with cursor.copy(
                f"COPY llm_requests_staging ({_COLUMN_LIST}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types([kind for _, kind in _PG_COLUMNS])
                for row in rows:
                    await copy.write_row(
                        [
                            _json(row.get(name)) if kind == "jsonb" else row.get(name)
                            for name, kind in _PG_COLUMNS
                        ]
                    )
            await cursor.execute(_FROM_STAGING)
            # The staging rows go at commit (ON COMMIT DELETE ROWS); one store per transaction.
            return {r[0] for r in await cursor.fetchall()}

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

"""What differs between the dialects: INSERT … ON CONFLICT is spelled per dialect in
SQLAlchemy, and the ingest hot path talks to psycopg directly on PostgreSQL."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def upsert_insert(session: AsyncSession, table: Any) -> Any:
    return sqlite.insert(table) if is_sqlite(session) else postgresql.insert(table)


def is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


async def psycopg_connection(session: AsyncSession) -> AsyncConnection[Any]:
    """The session's psycopg connection, in the session's transaction (commit and rollback
    stay the session's). For the few statements that run in every ingest transaction:
    through SQLAlchemy's execution layer each cost more CPU than PostgreSQL spends on it."""
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    assert isinstance(raw, AsyncConnection)
    return raw

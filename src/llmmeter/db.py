"""Engines, session factories and the per-request session (one request, one transaction)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from llmmeter.config import Settings


def sqlalchemy_url(settings: Settings, *, sync: bool = False) -> str:
    if settings.database_url is None:
        path = Path(settings.sqlite_path).expanduser().resolve()
        return f"sqlite:///{path}" if sync else f"sqlite+aiosqlite:///{path}"
    url = make_url(settings.database_url)
    if url.get_backend_name() in ("postgres", "postgresql"):
        # psycopg 3 serves both the async engine and Alembic's sync one.
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


def create_engine(settings: Settings) -> AsyncEngine:
    url = sqlalchemy_url(settings)
    if url.startswith("sqlite"):
        # One connection, used in turn: SQLite has one writer, and queueing in the pool is
        # kinder than "database is locked" errors under concurrent requests.
        engine = create_async_engine(
            url, pool_size=1, max_overflow=0, pool_timeout=60, connect_args={"timeout": 30}
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=False,
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = request.state.app.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        # Committed before the response leaves: a 200 means the row is durable.
        await session.commit()


# scope="function": the teardown (the commit) runs before the response is sent.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

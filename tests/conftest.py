"""Test fixtures: the real PostgreSQL (migrated once per run) and, where a test asks for the
`backend` fixture's SQLite parameter, the embedded SQLite mode."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from llmmeter import migrate
from llmmeter.app import create_app
from llmmeter.config import PlanTier, Settings
from llmmeter.db import create_engine, create_sessionmaker
from tests.fixtures.factories import KeyedWorkspace, create_keyed_workspace
from tests.fixtures.live import require_chromium
from tests.fixtures.receiver import Mailbox, Receiver, serve_mailbox, serve_receiver
from tests.fixtures.web import Browser

PG_URL = os.environ.get(
    "LLMMETER_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/llmmeter_test"
)
REDIS_URL = os.environ.get("LLMMETER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


class FakeClock:
    """Real time unless a test sets it."""

    def __init__(self) -> None:
        self.fixed: datetime | None = None

    def __call__(self) -> datetime:
        return self.fixed or datetime.now(UTC)

    def set(self, at: datetime) -> None:
        self.fixed = at


def recreate_database(url: str) -> None:
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.database}"')


@pytest.fixture(scope="session")
def pg_settings() -> Settings:
    recreate_database(PG_URL)
    settings = Settings(database_url=PG_URL, redis_url=REDIS_URL, _env_file=None)
    migrate.upgrade(settings)
    return settings


@pytest.fixture(scope="session")
def sqlite_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    path: Path = tmp_path_factory.mktemp("embedded") / "llmmeter.db"
    # The alert worker runs inside the app on the embedded mode; tests drive it themselves.
    settings = Settings(
        database_url=None, redis_url=None, sqlite_path=path, run_worker=False, _env_file=None
    )
    migrate.upgrade(settings)
    return settings


@pytest.fixture
def settings(pg_settings: Settings) -> Settings:
    return pg_settings


@pytest.fixture(params=["postgresql", "sqlite"])
def both_backends(request: pytest.FixtureRequest, pg_settings: Settings) -> Settings:
    """For the tests that must hold on the production store and on the embedded default."""
    if request.param == "sqlite":
        sqlite: Settings = request.getfixturevalue("sqlite_settings")
        return sqlite
    return pg_settings


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@asynccontextmanager
async def serve(
    settings: Settings,
    clock: FakeClock | None = None,
    base_url: str = "http://test",
    address: str = "127.0.0.1",
) -> AsyncIterator[httpx.AsyncClient]:
    """An app built for `settings`, with an HTTP client talking to it in-process."""
    app = create_app(settings, clock=clock or FakeClock())
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


def with_plan(settings: Settings, tier: PlanTier, **changes: object) -> Settings:
    plan = settings.plans[tier].model_copy(update=changes)
    return settings.model_copy(update={"plans": {**settings.plans, tier: plan}})


@pytest.fixture
async def app_client(settings: Settings, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(settings, clock) as client:
        yield client


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session of the test's own, to arrange data and to check what the app stored."""
    async with create_sessionmaker(engine)() as session:
        yield session


@pytest.fixture
async def ws(db: AsyncSession) -> KeyedWorkspace:
    return await create_keyed_workspace(db)


@pytest.fixture
async def browser(app_client: httpx.AsyncClient) -> Browser:
    """A web-app visitor (not signed in) with its own cookie jar."""
    return Browser(app_client)


@pytest.fixture
async def owner(browser: Browser) -> tuple[Browser, uuid.UUID]:
    """Signed up, with a workspace of their own."""
    await browser.sign_up()
    return browser, await browser.create_workspace()


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    yield from serve_receiver()


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    yield from serve_mailbox()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return require_chromium()

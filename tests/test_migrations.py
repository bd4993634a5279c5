from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect

from llmmeter import migrate
from llmmeter.config import Settings
from llmmeter.db import sqlalchemy_url
from tests.conftest import PG_URL, recreate_database

TABLES = {"workspaces", "api_keys", "llm_requests", "usage_counters", "price_overrides"}


def _tables(settings: Settings) -> set[str]:
    engine = create_engine(sqlalchemy_url(settings, sync=True))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_postgres_upgrade_from_empty_check_and_downgrade() -> None:
    url = PG_URL.rsplit("/", 1)[0] + "/llmmeter_migrations_test"
    recreate_database(url)
    settings = Settings(database_url=url, _env_file=None)
    migrate.upgrade(settings)
    assert _tables(settings) >= TABLES
    migrate.check(settings)  # raises if the models and the migrations disagree
    command.downgrade(migrate.alembic_config(settings), "base")
    assert not (_tables(settings) & TABLES)
    migrate.upgrade(settings)
    migrate.check(settings)


def test_sqlite_upgrade_and_check(tmp_path: Path) -> None:
    settings = Settings(database_url=None, sqlite_path=tmp_path / "m.db", _env_file=None)
    migrate.upgrade(settings)
    assert _tables(settings) >= TABLES
    migrate.check(settings)


def test_uniqueness_and_time_index_exist() -> None:
    settings = Settings(database_url=PG_URL, _env_file=None)
    engine = create_engine(sqlalchemy_url(settings, sync=True))
    try:
        insp = inspect(engine)
        uniques = [u["column_names"] for u in insp.get_unique_constraints("llm_requests")]
        indexes = [i["column_names"] for i in insp.get_indexes("llm_requests")]
    finally:
        engine.dispose()
    assert ["workspace_id", "external_request_id"] in uniques
    assert ["workspace_id", "created_at"] in indexes

"""Alembic, driven from code: `llmmeter migrate`, the embedded start-up and the tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from llmmeter.config import Settings
from llmmeter.db import sqlalchemy_url

_PACKAGED = Path(__file__).parent / "_migrations"
_SOURCE_TREE = Path(__file__).resolve().parents[2]


def alembic_config(settings: Settings) -> Config:
    ini = _SOURCE_TREE / "alembic.ini"
    config = Config(str(ini)) if ini.exists() else Config()
    script_location = _SOURCE_TREE / "migrations"
    if not script_location.exists():
        script_location = _PACKAGED
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(settings, sync=True).replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def upgrade(settings: Settings) -> None:
    command.upgrade(alembic_config(settings), "head")


def check(settings: Settings) -> None:
    command.check(alembic_config(settings))

from __future__ import annotations

import pytest

from llmmeter.config import Settings


@pytest.fixture(params=["postgresql", "sqlite"])
def settings(request: pytest.FixtureRequest, pg_settings: Settings) -> Settings:
    """Every ingest test runs on the production store and on the embedded default."""
    if request.param == "sqlite":
        sqlite: Settings = request.getfixturevalue("sqlite_settings")
        return sqlite
    return pg_settings

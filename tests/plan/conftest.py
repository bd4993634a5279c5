from __future__ import annotations

import pytest

from llmmeter.config import Settings


@pytest.fixture
def settings(both_backends: Settings) -> Settings:
    """Runs on the production store and on the embedded default."""
    return both_backends

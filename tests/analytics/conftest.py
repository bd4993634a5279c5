from __future__ import annotations

import pytest

from llmmeter.config import Settings


@pytest.fixture
def settings(both_backends: Settings) -> Settings:
    return both_backends

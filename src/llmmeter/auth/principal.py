from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field

from llmmeter.budget.config import BudgetConfig


@dataclass(frozen=True, slots=True)
class IngestPrincipal:
    """A caller authenticated by a workspace API key: it sees exactly that one workspace."""

    workspace_id: uuid.UUID
    api_key_id: uuid.UUID
    key_mode: str
    plan_tier: str
    time_zone: str
    pricing_version: int
    workspace_metadata: dict[str, str] = field(default_factory=dict)
    key_metadata: dict[str, str] = field(default_factory=dict)
    budget: BudgetConfig = field(default_factory=BudgetConfig)

    @property
    def workspace_ids(self) -> Collection[uuid.UUID]:
        return (self.workspace_id,)


@dataclass(frozen=True, slots=True)
class WorkspaceScope:
    """An operator or a service acting on one workspace by id (CLI, background jobs)."""

    workspace_id: uuid.UUID

    @property
    def workspace_ids(self) -> Collection[uuid.UUID]:
        return (self.workspace_id,)

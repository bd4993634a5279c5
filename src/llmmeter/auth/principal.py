from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field

from llmmeter.budget.config import BudgetConfig
from llmmeter.budget.scoped import ScopedBudget
from llmmeter.member.roles import Permission, allows
from llmmeter.models import User, WebSession, Workspace


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
    scoped_budgets: tuple[ScopedBudget, ...] = ()

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


@dataclass(frozen=True, slots=True)
class WebPrincipal:
    """A signed-in person acting in one workspace (the one in the URL) with their role there."""

    user: User
    web_session: WebSession
    workspace: Workspace
    role: str

    @property
    def workspace_id(self) -> uuid.UUID:
        return self.workspace.id

    @property
    def workspace_ids(self) -> Collection[uuid.UUID]:
        return (self.workspace.id,)

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)

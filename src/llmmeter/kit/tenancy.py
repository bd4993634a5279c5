"""The one place that turns "who is calling" into "which workspaces" for SQL statements."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Protocol

from sqlalchemy import ColumnElement, false
from sqlalchemy.orm import InstrumentedAttribute


class Tenant(Protocol):
    @property
    def workspace_ids(self) -> Collection[uuid.UUID]: ...


def tenant_scope(column: InstrumentedAttribute[uuid.UUID], tenant: Tenant) -> ColumnElement[bool]:
    ids = tenant.workspace_ids
    if not ids:
        return false()
    if len(ids) == 1:
        return column == next(iter(ids))
    return column.in_(ids)

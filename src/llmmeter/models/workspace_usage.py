from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from llmmeter.kit.model import Base


class WorkspaceUsage(Base):
    """Requests counted toward a workspace's plan in one calendar month."""

    __tablename__ = "workspace_usages"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    period_start_date: Mapped[date] = mapped_column(Date, primary_key=True)
    request_count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)

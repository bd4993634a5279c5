from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from llmmeter.kit.model import Base


class UsageCounter(Base):
    """Calls stored and their cost in one period (a calendar `month` or `day` in the workspace's
    time zone). The month row is what the plan quota counts; both feed the budgets. Kept exact,
    in the transaction that stores the rows, so no request ever sums raw rows."""

    __tablename__ = "usage_counters"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    period_start_date: Mapped[date] = mapped_column(Date, primary_key=True)
    request_count: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0, server_default=text("0")
    )
    cost_nano_usd: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0, server_default=text("0")
    )

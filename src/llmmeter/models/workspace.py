from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from llmmeter.kit.db_types import DecimalType, JSONType, UTCDateTime
from llmmeter.kit.model import TimestampedModel
from llmmeter.kit.time import utc_now


class Workspace(TimestampedModel):
    __tablename__ = "workspaces"

    name: Mapped[str] = mapped_column(String(128), nullable=False)
    plan_tier: Mapped[str] = mapped_column(String(32), nullable=False)
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    metadata_defaults: Mapped[dict[str, str]] = mapped_column(
        JSONType, nullable=False, default=dict
    )
    # Bumped whenever the workspace's price overrides change, so that callers may cache them.
    pricing_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Budgets in USD per period; NULL means no limit. Policy: observe (flags) or hard_stop (402).
    budget_daily_usd: Mapped[Decimal | None] = mapped_column(DecimalType, nullable=True)
    budget_monthly_usd: Mapped[Decimal | None] = mapped_column(DecimalType, nullable=True)
    budget_warning_ratio: Mapped[Decimal] = mapped_column(
        DecimalType, nullable=False, default=Decimal("0.8"), server_default=text("0.8")
    )
    budget_policy: Mapped[str] = mapped_column(
        String(16), nullable=False, default="observe", server_default=text("'observe'")
    )
    # Scoped budget rules in warning or critical, written by the alert worker and read with
    # the API key on every ingest (no extra query): [{scope, state, hardStop, until, …}].
    scoped_budgets: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONType, nullable=False, default=list, server_default=text("'[]'")
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utc_now, onupdate=utc_now
    )

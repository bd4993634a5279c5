from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from llmmeter.kit.db_types import DecimalType, UTCDateTime
from llmmeter.kit.model import TimestampedModel


class PriceOverride(TimestampedModel):
    """A workspace's own price for a provider/model, in force from `effective_at`."""

    __tablename__ = "price_overrides"
    __table_args__ = (
        Index(
            "ix_price_overrides_workspace_id_provider_model",
            "workspace_id",
            "provider",
            "model",
            "effective_at",
        ),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    provider: Mapped[str] = mapped_column(String(64), nullable=False)
    model: Mapped[str] = mapped_column(String(128), nullable=False)
    input_per_1m: Mapped[Decimal] = mapped_column(DecimalType, nullable=False)
    output_per_1m: Mapped[Decimal] = mapped_column(DecimalType, nullable=False)
    cached_input_per_1m: Mapped[Decimal | None] = mapped_column(DecimalType, nullable=True)
    reasoning_per_1m: Mapped[Decimal | None] = mapped_column(DecimalType, nullable=True)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

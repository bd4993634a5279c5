from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from llmmeter.kit.db_types import UTCDateTime
from llmmeter.kit.model import IDModel


class SignInFailure(IDModel):
    """One failed sign-in, counted per account and per address to throttle guessing. Kept in
    the database so that every worker and replica sees the same count."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_email_failed_at", "email", "failed_at"),
        Index("ix_sign_in_failures_address_failed_at", "address", "failed_at"),
    )

    email: Mapped[str] = mapped_column(String(320), nullable=False)
    address: Mapped[str] = mapped_column(String(64), nullable=False)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

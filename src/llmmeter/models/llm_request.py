from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from llmmeter.kit.db_types import JSONType, UTCDateTime
from llmmeter.kit.model import IDModel


class LLMRequest(IDModel):
    """One LLM call reported by a client; `id` is the public `requestId`."""

    __tablename__ = "llm_requests"
    __table_args__ = (
        UniqueConstraint("workspace_id", "external_request_id"),
        Index("ix_llm_requests_workspace_id_created_at", "workspace_id", "created_at"),
        # The rollup refresh finds what changed since it last looked.
        Index("ix_llm_requests_updated_at", "updated_at"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    api_key_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("api_keys.id", ondelete="SET NULL"), nullable=True
    )
    external_request_id: Mapped[str] = mapped_column(String(128), nullable=False)
    provider: Mapped[str] = mapped_column(String(64), nullable=False)
    model: Mapped[str] = mapped_column(String(128), nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False)
    error_code: Mapped[str | None] = mapped_column(String(128), nullable=True)
    input_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)
    output_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cached_input_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reasoning_tokens: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    prompt_version: Mapped[str] = mapped_column(String(128), nullable=False)
    endpoint_tag: Mapped[str] = mapped_column(String(128), nullable=False)
    user_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    tenant_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    feature_tag: Mapped[str | None] = mapped_column(String(128), nullable=True)
    data_mode: Mapped[str] = mapped_column(String(8), nullable=False)
    environment: Mapped[str] = mapped_column(String(16), nullable=False)
    request_metadata: Mapped[dict[str, str]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict
    )
    # Event time of the call (client's createdAt, else the receive time).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # Cost in billionths of a US dollar: exact sums on every backend.
    cost_nano_usd: Mapped[int] = mapped_column(BigInteger, nullable=False)
    pricing_status: Mapped[str] = mapped_column(String(16), nullable=False)
    price_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    # 1 + the number of times a stored error was replaced by a retry's outcome.
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # SHA-256 over the normalised record, to tell an identical retry from a changed one.
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)

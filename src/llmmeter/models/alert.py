from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from llmmeter.kit.db_types import DecimalType, JSONType, UTCDateTime
from llmmeter.kit.model import TimestampedModel


class AlertChannel(TimestampedModel):
    """Where alerts go: a webhook, Slack, PagerDuty or email. `config` holds the secrets
    (URLs, routing keys); pages show them masked once saved."""

    __tablename__ = "alert_channels"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)


class AlertRule(TimestampedModel):
    """A metric over a window and scope, with warning and critical thresholds, evaluated by
    the worker; `state` is ok, warning or critical."""

    __tablename__ = "alert_rules"
    __table_args__ = (Index("ix_alert_rules_next_evaluation_at", "next_evaluation_at"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    metric: Mapped[str] = mapped_column(String(32), nullable=False)
    # Scope: workspace, endpoint_tag, prompt_version, model, user or metadata (key = value).
    scope_kind: Mapped[str] = mapped_column(String(16), nullable=False, default="workspace")
    scope_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    scope_value: Mapped[str | None] = mapped_column(String(128), nullable=True)
    data_mode: Mapped[str | None] = mapped_column(String(8), nullable=True, default="real")
    environment: Mapped[str | None] = mapped_column(String(16), nullable=True)
    window_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    warning_threshold: Mapped[Decimal | None] = mapped_column(DecimalType, nullable=True)
    critical_threshold: Mapped[Decimal | None] = mapped_column(DecimalType, nullable=True)
    # Budget rules: the limit in USD; thresholds are ratio × limit and the limit.
    budget_limit_usd: Mapped[Decimal | None] = mapped_column(DecimalType, nullable=True)
    hard_stop: Mapped[bool] = mapped_column(default=False, nullable=False)
    cooldown_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=300)
    delivery: Mapped[str] = mapped_column(String(16), nullable=False, default="immediate")
    channel_ids: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    enabled: Mapped[bool] = mapped_column(default=True, nullable=False)
    state: Mapped[str] = mapped_column(String(8), nullable=False, default="ok")
    state_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_value: Mapped[Decimal | None] = mapped_column(DecimalType, nullable=True)
    last_evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_evaluation_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class AlertEvent(TimestampedModel):
    """One state change of a rule (history); deliveries hang off it."""

    __tablename__ = "alert_events"
    __table_args__ = (
        Index("ix_alert_events_workspace_id_created_at", "workspace_id", "created_at"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    rule_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alert_rules.id", ondelete="CASCADE"), nullable=False, index=True
    )
    from_state: Mapped[str] = mapped_column(String(8), nullable=False)
    to_state: Mapped[str] = mapped_column(String(8), nullable=False)
    value: Mapped[Decimal | None] = mapped_column(DecimalType, nullable=True)
    threshold: Mapped[Decimal | None] = mapped_column(DecimalType, nullable=True)
    # False when the cooldown or a summary delivery mode held the notification back.
    notified: Mapped[bool] = mapped_column(default=False, nullable=False)


class AlertDelivery(TimestampedModel):
    """One message to one channel (an outbox row): pending → sent, or retried with backoff
    until it fails for good. Claimed with a lease, so replicas never send it twice."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        Index("ix_alert_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_alert_deliveries_workspace_id_created_at", "workspace_id", "created_at"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    event_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("alert_events.id", ondelete="CASCADE"), nullable=True
    )
    channel_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("alert_channels.id", ondelete="CASCADE"), nullable=False, index=True
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    response_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(512), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

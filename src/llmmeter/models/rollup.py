from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, SmallInteger, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from llmmeter.kit.db_types import BigIntPK, UTCDateTime
from llmmeter.kit.model import Base


class _PeriodSums:
    """One row per workspace × UTC hour or day × labels: the sums the dashboard adds up."""

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    granularity: Mapped[str] = mapped_column(String(4), nullable=False)  # hour | day
    period_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

    requests: Mapped[int] = mapped_column(BigInteger, nullable=False)
    errors: Mapped[int] = mapped_column(BigInteger, nullable=False)
    rate_limited: Mapped[int] = mapped_column(BigInteger, nullable=False)
    unknown_model_rows: Mapped[int] = mapped_column(BigInteger, nullable=False)
    input_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)
    output_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cost_nano_usd: Mapped[int] = mapped_column(BigInteger, nullable=False)
    latency_count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    latency_sum: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class RollupSum(_PeriodSums, Base):
    """Calls per UTC hour (and per UTC day) × endpoint tag × prompt version × provider × model
    × status × data mode × environment: what the dashboard sums over long windows (PostgreSQL
    only)."""

    __tablename__ = "rollup_sums"
    __table_args__ = (
        Index(
            "ix_rollup_sums_workspace_id_granularity_period_start",
            "workspace_id",
            "granularity",
            "period_start",
        ),
    )

    endpoint_tag: Mapped[str] = mapped_column(String(128), nullable=False)
    prompt_version: Mapped[str] = mapped_column(String(128), nullable=False)
    provider: Mapped[str] = mapped_column(String(64), nullable=False)
    model: Mapped[str] = mapped_column(String(128), nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False)
    data_mode: Mapped[str] = mapped_column(String(8), nullable=False)
    environment: Mapped[str] = mapped_column(String(16), nullable=False)


class RollupUserSum(_PeriodSums, Base):
    """The same sums per UTC hour (and day) × grouping user × data mode × environment: users
    kept apart so that their number does not multiply the main rollup's rows."""

    __tablename__ = "rollup_user_sums"
    __table_args__ = (
        Index(
            "ix_rollup_user_sums_workspace_id_granularity_period_start",
            "workspace_id",
            "granularity",
            "period_start",
        ),
    )

    user_key: Mapped[str] = mapped_column(String(128), nullable=False)
    data_mode: Mapped[str] = mapped_column(String(8), nullable=False)
    environment: Mapped[str] = mapped_column(String(16), nullable=False)


class RollupLatency(Base):
    """Latency histogram, log scale with 8 buckets per doubling (bucket b holds latencies in
    [2^(b/8) − 1, 2^((b+1)/8) − 1) ms), per UTC hour and per UTC day, at three levels of
    detail so that a question reads the fewest rows: `all` (data mode × environment only),
    `tag` (+ endpoint tag), `full` (+ prompt version and model). Labels a level does not keep
    are stored as ''."""

    __tablename__ = "rollup_latencies"
    __table_args__ = (
        Index(
            "ix_rollup_latencies_workspace_id_level_granularity_period_start",
            "workspace_id",
            "level",
            "granularity",
            "period_start",
        ),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    level: Mapped[str] = mapped_column(String(4), nullable=False)  # all | tag | full
    granularity: Mapped[str] = mapped_column(String(4), nullable=False)  # hour | day
    period_start: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    endpoint_tag: Mapped[str] = mapped_column(String(128), nullable=False)
    prompt_version: Mapped[str] = mapped_column(String(128), nullable=False)
    model: Mapped[str] = mapped_column(String(128), nullable=False)
    data_mode: Mapped[str] = mapped_column(String(8), nullable=False)
    environment: Mapped[str] = mapped_column(String(16), nullable=False)
    bucket: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    count: Mapped[int] = mapped_column(Integer, nullable=False)


class RollupDirtyHour(Base):
    """Hours to recompute that no row's updated_at points at (rows deleted)."""

    __tablename__ = "rollup_dirty_hours"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    hour_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)


class RollupState(Base):
    """How far the incremental refresh has read `llm_requests.updated_at`."""

    __tablename__ = "rollup_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    watermark: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)

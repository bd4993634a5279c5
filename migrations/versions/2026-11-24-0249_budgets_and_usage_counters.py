"""budgets and usage counters

Revision ID: c8ebdbb61c39
Revises: 934e687d39cd
Create Date: 2026-11-24 02:49:19.613471+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import llmmeter.kit.db_types

revision: str = "c8ebdbb61c39"
down_revision: str | None = "934e687d39cd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_counters",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("period_start_date", sa.Date(), nullable=False),
        sa.Column("request_count", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("cost_nano_usd", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_usage_counters_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "period", "period_start_date", name=op.f("pk_usage_counters")
        ),
    )
    # Keep the month's request counts; spend starts from the rows received after the upgrade.
    op.execute(
        "INSERT INTO usage_counters (workspace_id, period, period_start_date, request_count, cost_nano_usd) "
        "SELECT workspace_id, 'month', period_start_date, request_count, 0 FROM workspace_usages"
    )
    op.drop_table("workspace_usages")
    op.add_column(
        "workspaces",
        sa.Column(
            "budget_daily_usd",
            llmmeter.kit.db_types.DecimalType(precision=20, scale=9),
            nullable=True,
        ),
    )
    op.add_column(
        "workspaces",
        sa.Column(
            "budget_monthly_usd",
            llmmeter.kit.db_types.DecimalType(precision=20, scale=9),
            nullable=True,
        ),
    )
    op.add_column(
        "workspaces",
        sa.Column(
            "budget_warning_ratio",
            llmmeter.kit.db_types.DecimalType(precision=20, scale=9),
            server_default=sa.text("0.8"),
            nullable=False,
        ),
    )
    op.add_column(
        "workspaces",
        sa.Column(
            "budget_policy",
            sa.String(length=16),
            server_default=sa.text("'observe'"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column("workspaces", "budget_policy")
    op.drop_column("workspaces", "budget_warning_ratio")
    op.drop_column("workspaces", "budget_monthly_usd")
    op.drop_column("workspaces", "budget_daily_usd")
    op.create_table(
        "workspace_usages",
        sa.Column("workspace_id", sa.UUID(), autoincrement=False, nullable=False),
        sa.Column("period_start_date", sa.DATE(), autoincrement=False, nullable=False),
        sa.Column("request_count", sa.BIGINT(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_workspace_usages_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "workspace_id", "period_start_date", name=op.f("pk_workspace_usages")
        ),
    )
    op.execute(
        "INSERT INTO workspace_usages (workspace_id, period_start_date, request_count) "
        "SELECT workspace_id, period_start_date, request_count FROM usage_counters WHERE period = 'month'"
    )
    op.drop_table("usage_counters")

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.kit.tenancy import Tenant, tenant_scope
from llmmeter.models import AlertChannel, AlertDelivery, AlertEvent, AlertRule, Workspace

BUDGET_METRICS = ("budget_daily", "budget_monthly")


class AlertRepository:
    # --- channels --------------------------------------------------------------------------
    async def add(self, session: AsyncSession, obj: AlertChannel | AlertRule | AlertEvent) -> None:
        session.add(obj)
        await session.flush()

    async def channels(self, session: AsyncSession, tenant: Tenant) -> Sequence[AlertChannel]:
        stmt = (
            select(AlertChannel)
            .where(tenant_scope(AlertChannel.workspace_id, tenant))
            .order_by(AlertChannel.created_at)
        )
        return (await session.scalars(stmt)).all()

    async def channel(
        self, session: AsyncSession, tenant: Tenant, channel_id: uuid.UUID
    ) -> AlertChannel | None:
        stmt = select(AlertChannel).where(
            tenant_scope(AlertChannel.workspace_id, tenant), AlertChannel.id == channel_id
        )
        return (await session.scalars(stmt)).first()

    async def delete(self, session: AsyncSession, obj: AlertChannel | AlertRule) -> None:
        await session.delete(obj)
        await session.flush()

    # --- rules -----------------------------------------------------------------------------
    async def rules(self, session: AsyncSession, tenant: Tenant) -> Sequence[AlertRule]:
        stmt = (
            select(AlertRule)
            .where(tenant_scope(AlertRule.workspace_id, tenant))
            .order_by(AlertRule.created_at)
        )
        return (await session.scalars(stmt)).all()

    async def rule(
        self, session: AsyncSession, tenant: Tenant, rule_id: uuid.UUID
    ) -> AlertRule | None:
        stmt = select(AlertRule).where(
            tenant_scope(AlertRule.workspace_id, tenant), AlertRule.id == rule_id
        )
        return (await session.scalars(stmt)).first()

    async def firing(self, session: AsyncSession, tenant: Tenant) -> Sequence[AlertRule]:
        stmt = (
            select(AlertRule)
            .where(
                tenant_scope(AlertRule.workspace_id, tenant),
                AlertRule.enabled.is_(True),
                AlertRule.state != "ok",
            )
            .order_by(AlertRule.state, AlertRule.name)
        )
        return (await session.scalars(stmt)).all()

    async def claim_due(
        self, session: AsyncSession, now: datetime, limit: int
    ) -> Sequence[tuple[AlertRule, Workspace]]:
        """Due rules, locked for this transaction; other workers skip them (SKIP LOCKED), so
        each state change, and the alert it sends, happens once."""
        stmt = (
            select(AlertRule, Workspace)
            .join(Workspace, Workspace.id == AlertRule.workspace_id)
            .where(AlertRule.enabled.is_(True), AlertRule.next_evaluation_at <= now)
            .order_by(AlertRule.next_evaluation_at)
            .limit(limit)
            .with_for_update(of=AlertRule, skip_locked=True)
        )
        return [(r, w) for r, w in (await session.execute(stmt)).all()]

    async def budget_rules_in_alert(
        self, session: AsyncSession, workspace_id: uuid.UUID
    ) -> Sequence[AlertRule]:
        stmt = select(AlertRule).where(
            AlertRule.workspace_id == workspace_id,
            AlertRule.enabled.is_(True),
            AlertRule.metric.in_(BUDGET_METRICS),
            AlertRule.state != "ok",
        )
        return (await session.scalars(stmt)).all()

    # --- events ----------------------------------------------------------------------------
    async def events(
        self, session: AsyncSession, tenant: Tenant, limit: int
    ) -> Sequence[tuple[AlertEvent, AlertRule]]:
        stmt = (
            select(AlertEvent, AlertRule)
            .join(AlertRule, AlertRule.id == AlertEvent.rule_id)
            .where(tenant_scope(AlertEvent.workspace_id, tenant))
            .order_by(AlertEvent.created_at.desc())
            .limit(limit)
        )
        return [(e, r) for e, r in (await session.execute(stmt)).all()]

    async def events_between(
        self, session: AsyncSession, tenant: Tenant, start: datetime, end: datetime
    ) -> Sequence[tuple[AlertEvent, AlertRule]]:
        stmt = (
            select(AlertEvent, AlertRule)
            .join(AlertRule, AlertRule.id == AlertEvent.rule_id)
            .where(
                tenant_scope(AlertEvent.workspace_id, tenant),
                AlertEvent.created_at >= start,
                AlertEvent.created_at < end,
            )
            .order_by(AlertEvent.created_at)
            .limit(500)
        )
        return [(e, r) for e, r in (await session.execute(stmt)).all()]

    async def rule_events_since(
        self, session: AsyncSession, rule_id: uuid.UUID, since: datetime | None
    ) -> Sequence[AlertEvent]:
        stmt = select(AlertEvent).where(AlertEvent.rule_id == rule_id)
        if since is not None:
            stmt = stmt.where(AlertEvent.created_at > since)
        return (await session.scalars(stmt.order_by(AlertEvent.created_at))).all()

    async def last_notified(self, session: AsyncSession, rule_id: uuid.UUID) -> AlertEvent | None:
        stmt = (
            select(AlertEvent)
            .where(AlertEvent.rule_id == rule_id, AlertEvent.notified.is_(True))
            .order_by(AlertEvent.created_at.desc())
            .limit(1)
        )
        return (await session.scalars(stmt)).first()

    # --- deliveries ------------------------------------------------------------------------
    async def add_deliveries(self, session: AsyncSession, rows: Sequence[AlertDelivery]) -> None:
        session.add_all(rows)
        await session.flush()

    async def claim_deliveries(
        self, session: AsyncSession, now: datetime, lease_until: datetime, limit: int
    ) -> Sequence[tuple[AlertDelivery, AlertChannel]]:
        """Due messages (new, to retry, or whose sender's lease ran out), leased to this
        worker in this transaction."""
        due = or_(
            and_(
                AlertDelivery.status.in_(("pending", "retrying")),
                AlertDelivery.next_attempt_at <= now,
            ),
            and_(AlertDelivery.status == "sending", AlertDelivery.lease_until < now),
        )
        stmt = (
            select(AlertDelivery, AlertChannel)
            .join(AlertChannel, AlertChannel.id == AlertDelivery.channel_id)
            .where(due)
            .order_by(AlertDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(of=AlertDelivery, skip_locked=True)
        )
        rows = [(d, c) for d, c in (await session.execute(stmt)).all()]
        if rows:
            await session.execute(
                update(AlertDelivery)
                .where(AlertDelivery.id.in_([d.id for d, _ in rows]))
                .values(status="sending", lease_until=lease_until)
                .execution_options(synchronize_session=False)
            )
        return rows

    async def save_delivery(self, session: AsyncSession, delivery: AlertDelivery) -> None:
        await session.merge(delivery)
        await session.flush()

    async def deliveries(
        self, session: AsyncSession, tenant: Tenant, limit: int
    ) -> Sequence[tuple[AlertDelivery, AlertChannel]]:
        stmt = (
            select(AlertDelivery, AlertChannel)
            .join(AlertChannel, AlertChannel.id == AlertDelivery.channel_id)
            .where(tenant_scope(AlertDelivery.workspace_id, tenant))
            .order_by(AlertDelivery.created_at.desc())
            .limit(limit)
        )
        return [(d, c) for d, c in (await session.execute(stmt)).all()]


alert_repository = AlertRepository()

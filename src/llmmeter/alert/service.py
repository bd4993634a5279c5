"""Alert rules, channels and their evaluation.

State machine per rule: ok → warning → critical and back, each change recorded as an event
(history). A change to warning or critical notifies the rule's channels unless the rule
notified within its cooldown (an escalation to critical always notifies); a return to ok
notifies only when the firing did. Rules in daily or weekly mode collect their events into one
summary per period. Evaluation locks each due rule (SKIP LOCKED), so with several workers or
replicas each change and its messages happen once; messages go through an outbox
(`alert_deliveries`) that a sender drains with retries and backoff."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from llmmeter.alert import channels as channel_kinds
from llmmeter.alert.channels import ChannelKind, SendResult
from llmmeter.alert.metrics import METRICS, Metric, budget_period, format_value, value_of, window
from llmmeter.alert.repository import alert_repository
from llmmeter.alert.schemas import RuleInput, describe_duration
from llmmeter.analytics.filters import Filters
from llmmeter.analytics.service import analytics_service
from llmmeter.auth.principal import WorkspaceScope
from llmmeter.budget.scoped import ScopedBudget
from llmmeter.config import Settings
from llmmeter.kit.errors import FieldError, NotFound, ValidationFailed
from llmmeter.kit.tenancy import Tenant
from llmmeter.models import AlertChannel, AlertDelivery, AlertEvent, AlertRule, Workspace
from llmmeter.workspace.service import workspace_service

LEVELS = {"ok": 0, "warning": 1, "critical": 2}
MAX_ATTEMPTS = 6
LEASE = timedelta(seconds=60)
SUMMARY_PERIOD = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}


@dataclass(frozen=True, slots=True)
class IssuedChannel:
    channel: AlertChannel
    secret: str | None  # the webhook signing secret: shown once


def level_of(rule: AlertRule, value: Decimal | None) -> str:
    if value is None:
        return "ok"
    if rule.critical_threshold is not None and value >= rule.critical_threshold:
        return "critical"
    if rule.warning_threshold is not None and value >= rule.warning_threshold:
        return "warning"
    return "ok"


def scope_text(rule: AlertRule) -> str:
    if rule.scope_kind == "workspace":
        return "whole workspace"
    if rule.scope_kind == "metadata":
        return f"metadata.{rule.scope_key} = {rule.scope_value}"
    return f"{rule.scope_kind} = {rule.scope_value}"


def rule_filters(rule: AlertRule, start: datetime, end: datetime) -> Filters:
    kind, value = rule.scope_kind, rule.scope_value
    return Filters(
        start=start,
        end=end,
        data_mode=rule.data_mode,
        environment=rule.environment,
        endpoint_tag=value if kind == "endpoint_tag" else None,
        prompt_version=value if kind == "prompt_version" else None,
        model=value if kind == "model" else None,
        user=value if kind == "user" else None,
        metadata=((rule.scope_key or "", value or ""),) if kind == "metadata" else (),
    )


def dashboard_url(settings: Settings, rule: AlertRule) -> str:
    params: dict[str, str] = {}
    span = rule.window_seconds
    params["range"] = (
        "1h" if span <= 3600 else "24h" if span <= 86400 else "7d" if span <= 604800 else "30d"
    )
    params["mode"] = rule.data_mode or "all"
    if rule.environment:
        params["env"] = rule.environment
    names = {"endpoint_tag": "tag", "prompt_version": "version", "model": "model", "user": "user"}
    if rule.scope_kind in names and rule.scope_value:
        params[names[rule.scope_kind]] = rule.scope_value
    if rule.scope_kind == "metadata":
        params["meta"] = f"{rule.scope_key}={rule.scope_value}"
    return f"{settings.base_url}/app/w/{rule.workspace_id}/?{urlencode(params)}"


def message(
    settings: Settings,
    rule: AlertRule,
    workspace: Workspace,
    kind: str,
    state: str,
    previous: str,
    value: Decimal | None,
    at: datetime,
    events: Sequence[AlertEvent] = (),
) -> dict[str, Any]:
    """The canonical alert message (the generic webhook's body); channels reformat it."""
    metric = Metric(rule.metric)
    threshold = rule.critical_threshold if state == "critical" else rule.warning_threshold
    body: dict[str, Any] = {
        "type": kind,
        "state": state,
        "previousState": previous,
        "workspaceId": str(workspace.id),
        "workspaceName": workspace.name,
        "rule": {
            "id": str(rule.id),
            "name": rule.name,
            "metric": rule.metric,
            "metricLabel": METRICS[metric].label,
            "scope": scope_text(rule),
            "window": "period so far"
            if metric.is_budget
            else describe_duration(rule.window_seconds),
        },
        "value": None if value is None else float(value),
        "valueText": format_value(metric, value),
        "threshold": None if threshold is None else float(threshold),
        "thresholdText": format_value(metric, threshold),
        "at": at.isoformat(),
        "dashboardUrl": dashboard_url(settings, rule),
        "dedupKey": f"llmmeter-rule-{rule.id}",
    }
    if events:
        body["events"] = [
            {
                "at": e.created_at.isoformat(),
                "from": e.from_state,
                "to": e.to_state,
                "value": None if e.value is None else float(e.value),
            }
            for e in events
        ]
    return body


class AlertService:
    # --- channels --------------------------------------------------------------------------
    async def create_channel(
        self,
        session: AsyncSession,
        workspace_id: uuid.UUID,
        kind: ChannelKind,
        name: str,
        target: str,
    ) -> IssuedChannel:
        secret = None
        config: dict[str, Any]
        match kind:
            case ChannelKind.webhook:
                secret = "whsec_" + secrets.token_urlsafe(32)
                config = {"url": target, "secret": secret}
            case ChannelKind.slack:
                config = {"url": target}
            case ChannelKind.pagerduty:
                config = {"routing_key": target}
            case ChannelKind.email:
                config = {"to": target}
        channel = AlertChannel(workspace_id=workspace_id, kind=kind.value, name=name, config=config)
        await alert_repository.add(session, channel)
        return IssuedChannel(channel, secret)

    async def channels(self, session: AsyncSession, tenant: Tenant) -> Sequence[AlertChannel]:
        return await alert_repository.channels(session, tenant)

    async def delete_channel(
        self, session: AsyncSession, tenant: Tenant, channel_id: uuid.UUID
    ) -> None:
        await alert_repository.delete(session, await self._channel(session, tenant, channel_id))

    async def _channel(
        self, session: AsyncSession, tenant: Tenant, channel_id: uuid.UUID
    ) -> AlertChannel:
        channel = await alert_repository.channel(session, tenant, channel_id)
        if channel is None:
            raise NotFound("No such channel.")
        return channel

    async def send_test(
        self,
        session: AsyncSession,
        settings: Settings,
        tenant: Tenant,
        workspace: Workspace,
        channel_id: uuid.UUID,
        now: datetime,
    ) -> AlertDelivery:
        """Sends a test message now and logs it like any delivery (no retries)."""
        channel = await self._channel(session, tenant, channel_id)
        probe = AlertRule(
            id=uuid.UUID(int=0),
            workspace_id=workspace.id,
            name="Test alert",
            metric=Metric.latency_p95.value,
            scope_kind="workspace",
            window_seconds=300,
            warning_threshold=Decimal(1000),
            critical_threshold=Decimal(2000),
        )
        body = message(settings, probe, workspace, "test", "critical", "ok", Decimal(2345), now)
        delivery = AlertDelivery(
            workspace_id=workspace.id,
            channel_id=channel.id,
            payload=body,
            status="sending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        await alert_repository.add_deliveries(session, [delivery])
        async with _Http(settings) as client:
            result = await channel_kinds.send(
                client, settings, channel.kind, channel.config, body, str(delivery.id)
            )
        _record(delivery, result, now, final=True)
        await alert_repository.save_delivery(session, delivery)
        return delivery

    # --- rules -----------------------------------------------------------------------------
    async def rules(self, session: AsyncSession, tenant: Tenant) -> Sequence[AlertRule]:
        return await alert_repository.rules(session, tenant)

    async def rule(self, session: AsyncSession, tenant: Tenant, rule_id: uuid.UUID) -> AlertRule:
        rule = await alert_repository.rule(session, tenant, rule_id)
        if rule is None:
            raise NotFound("No such alert rule.")
        return rule

    async def save_rule(
        self,
        session: AsyncSession,
        tenant: Tenant,
        workspace_id: uuid.UUID,
        data: RuleInput,
        now: datetime,
        rule_id: uuid.UUID | None = None,
    ) -> AlertRule:
        known = {c.id for c in await alert_repository.channels(session, tenant)}
        if any(c not in known for c in data.channel_ids):
            raise ValidationFailed([FieldError(["channels"], "unknown channel")])
        rule = (
            await self.rule(session, tenant, rule_id)
            if rule_id
            else AlertRule(workspace_id=workspace_id, state="ok", created_at=now)
        )
        rule.name, rule.metric = data.name, data.metric.value
        rule.scope_kind, rule.scope_key, rule.scope_value = (
            data.scope_kind,
            data.scope_key,
            data.scope_value,
        )
        rule.data_mode, rule.environment = data.data_mode, data.environment
        rule.window_seconds = data.window_seconds
        rule.warning_threshold, rule.critical_threshold = data.warning, data.critical
        rule.budget_limit_usd, rule.hard_stop = data.budget_limit_usd, data.hard_stop
        rule.cooldown_seconds, rule.delivery = data.cooldown_seconds, data.delivery
        rule.channel_ids = [str(c) for c in data.channel_ids]
        rule.enabled = data.enabled
        if not rule.enabled:
            rule.state, rule.state_since = "ok", now  # a disabled rule alerts and blocks nothing
        rule.next_evaluation_at = now  # evaluate the new definition at once
        await alert_repository.add(session, rule)
        # A budget rule just switched off or out of hard stop must stop blocking at once.
        await self._publish_scoped_budgets(session, workspace_id, now)
        return rule

    async def delete_rule(
        self, session: AsyncSession, tenant: Tenant, rule_id: uuid.UUID, now: datetime
    ) -> None:
        rule = await self.rule(session, tenant, rule_id)
        workspace_id = rule.workspace_id
        await alert_repository.delete(session, rule)
        await self._publish_scoped_budgets(session, workspace_id, now)

    async def firing(self, session: AsyncSession, tenant: Tenant) -> Sequence[AlertRule]:
        return await alert_repository.firing(session, tenant)

    async def history(
        self, session: AsyncSession, tenant: Tenant, limit: int = 50
    ) -> Sequence[tuple[AlertEvent, AlertRule]]:
        return await alert_repository.events(session, tenant, limit)

    async def markers(
        self, session: AsyncSession, tenant: Tenant, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """State changes in a window, for the chart markers."""
        events = await alert_repository.events_between(session, tenant, start, end)
        return [
            {"t": int(e.created_at.timestamp()), "state": e.to_state, "rule": r.name}
            for e, r in events
        ]

    async def deliveries(
        self, session: AsyncSession, tenant: Tenant, limit: int = 50
    ) -> Sequence[tuple[AlertDelivery, AlertChannel]]:
        return await alert_repository.deliveries(session, tenant, limit)

    # --- evaluation ------------------------------------------------------------------------
    async def evaluate_due(
        self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime
    ) -> int:
        """Evaluates every due rule once; returns how many. One transaction per batch."""
        done = 0
        while True:
            async with sessionmaker() as session, session.begin():
                claimed = await alert_repository.claim_due(session, now, 50)
                for rule, workspace in claimed:
                    await self.evaluate(session, settings, rule, workspace, now)
            done += len(claimed)
            if len(claimed) < 50:
                return done

    async def evaluate(
        self,
        session: AsyncSession,
        settings: Settings,
        rule: AlertRule,
        workspace: Workspace,
        now: datetime,
    ) -> None:
        metric = Metric(rule.metric)
        start, end = window(metric, now, rule.window_seconds, workspace.time_zone)
        f = rule_filters(rule, start, end)
        overview = await analytics_service.overview(session, WorkspaceScope(workspace.id), f)
        value = value_of(metric, overview, f)
        new = level_of(rule, value)
        old = rule.state
        rule.last_value, rule.last_evaluated_at = value, now
        rule.next_evaluation_at = now + timedelta(seconds=settings.alert_interval_seconds)
        if new != old:
            await self._transition(session, settings, rule, workspace, old, new, value, now)
        if rule.delivery in SUMMARY_PERIOD:
            await self._summary_if_due(session, settings, rule, workspace, now)
        await alert_repository.add(session, rule)
        if metric.is_budget and (new != old or rule.state != "ok"):
            await self._publish_scoped_budgets(session, workspace.id, now)

    async def _transition(
        self,
        session: AsyncSession,
        settings: Settings,
        rule: AlertRule,
        workspace: Workspace,
        old: str,
        new: str,
        value: Decimal | None,
        now: datetime,
    ) -> None:
        threshold = rule.critical_threshold if new == "critical" else rule.warning_threshold
        event = AlertEvent(
            workspace_id=workspace.id,
            rule_id=rule.id,
            from_state=old,
            to_state=new,
            value=value,
            threshold=threshold,
            created_at=now,
        )
        rule.state, rule.state_since = new, now
        event.notified = rule.delivery == "immediate" and await self._should_notify(
            session, rule, old, new, now
        )
        await alert_repository.add(session, event)
        if event.notified:
            kind = "alert.resolved" if new == "ok" else "alert.fired"
            body = message(settings, rule, workspace, kind, new, old, value, now)
            await self._enqueue(session, rule, body, event.id, now)
            rule.last_notified_at = now

    async def _should_notify(
        self, session: AsyncSession, rule: AlertRule, old: str, new: str, now: datetime
    ) -> bool:
        last = await alert_repository.last_notified(session, rule.id)
        if new == "ok":
            return last is not None and last.to_state != "ok"  # resolve what was announced
        if last is not None and last.to_state != "ok" and LEVELS[new] > LEVELS[last.to_state]:
            return True  # escalation
        cooled = rule.last_notified_at is None or now - rule.last_notified_at >= timedelta(
            seconds=rule.cooldown_seconds
        )
        return cooled and LEVELS[new] > LEVELS[old]

    async def _summary_if_due(
        self,
        session: AsyncSession,
        settings: Settings,
        rule: AlertRule,
        workspace: Workspace,
        now: datetime,
    ) -> None:
        period = SUMMARY_PERIOD[rule.delivery]
        since = rule.last_notified_at
        if since is not None and now - since < period:
            return
        events = await alert_repository.rule_events_since(session, rule.id, since)
        if not events:
            if since is None:
                rule.last_notified_at = now  # start the first period
            return
        body = message(
            settings,
            rule,
            workspace,
            "alert.summary",
            rule.state,
            events[0].from_state,
            rule.last_value,
            now,
            events,
        )
        await self._enqueue(session, rule, body, events[-1].id, now)
        rule.last_notified_at = now

    async def _enqueue(
        self,
        session: AsyncSession,
        rule: AlertRule,
        body: dict[str, Any],
        event_id: uuid.UUID | None,
        now: datetime,
    ) -> None:
        scope = WorkspaceScope(rule.workspace_id)
        known = {str(c.id) for c in await alert_repository.channels(session, scope)}
        rows = [
            AlertDelivery(
                workspace_id=rule.workspace_id,
                event_id=event_id,
                channel_id=uuid.UUID(channel_id),
                payload=body,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            for channel_id in rule.channel_ids
            if channel_id in known
        ]
        await alert_repository.add_deliveries(session, rows)

    async def _publish_scoped_budgets(
        self, session: AsyncSession, workspace_id: uuid.UUID, now: datetime
    ) -> None:
        """Budget rules in warning or critical, onto the workspace row that ingest reads."""
        scope = WorkspaceScope(workspace_id)
        workspace = await workspace_service.get(session, scope)
        entries = [
            ScopedBudget(
                rule_id=str(rule.id),
                kind=rule.scope_kind,
                key=rule.scope_key,
                value=rule.scope_value,
                data_mode=rule.data_mode,
                environment=rule.environment,
                state=rule.state,
                hard_stop=rule.hard_stop,
                until=budget_period(Metric(rule.metric), now, workspace.time_zone).end,
            ).to_json()
            for rule in await alert_repository.budget_rules_in_alert(session, workspace_id)
        ]
        await workspace_service.set_scoped_budgets(session, scope, entries)

    # --- delivery --------------------------------------------------------------------------
    async def send_due(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        now: datetime,
        client: httpx.AsyncClient | None = None,
    ) -> int:
        """Sends what is due, concurrently: one slow or dead channel holds up nothing else."""
        async with sessionmaker() as session, session.begin():
            claimed = await alert_repository.claim_deliveries(session, now, now + LEASE, 50)
        if not claimed:
            return 0
        async with _Http(settings, client) as http:
            sent = await asyncio.gather(
                *(
                    channel_kinds.send(http, settings, c.kind, c.config, d.payload, str(d.id))
                    for d, c in claimed
                )
            )
        async with sessionmaker() as session, session.begin():
            for (delivery, _), result in zip(claimed, sent, strict=True):
                _record(delivery, result, now)
                await alert_repository.save_delivery(session, delivery)
        return len(claimed)


class _Http:
    """An httpx client for one round of sends (or the caller's, left open)."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self._given = client
        self._timeout = settings.alert_http_timeout_seconds
        self._own: httpx.AsyncClient | None = None

    async def __aenter__(self) -> httpx.AsyncClient:
        if self._given is not None:
            return self._given
        self._own = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        return self._own

    async def __aexit__(self, *_exc: object) -> None:
        if self._own is not None:
            await self._own.aclose()


def _record(
    delivery: AlertDelivery, result: SendResult, now: datetime, *, final: bool = False
) -> None:
    delivery.attempts += 1
    delivery.response_code = result.status_code
    delivery.lease_until = None
    if result.ok:
        delivery.status, delivery.sent_at, delivery.error = "sent", now, None
        return
    delivery.error = (result.error or "failed")[:512]
    if final or not result.retry or delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = "failed"
        return
    delivery.status = "retrying"
    # 10 s, 20 s, 40 s, … capped at 10 minutes.
    delivery.next_attempt_at = now + timedelta(seconds=min(600, 10 * 2 ** (delivery.attempts - 1)))


alert_service = AlertService()

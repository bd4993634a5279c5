"""Alert rules end to end against local receivers: a p95 rule on one endpoint tag fires once,
keeps its cooldown, resolves; every channel gets a well-formed message; failures retry."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from llmmeter.alert.channels import ChannelKind, sign
from llmmeter.alert.schemas import parse_rule
from llmmeter.alert.service import alert_service
from llmmeter.auth.principal import WorkspaceScope
from llmmeter.config import Settings
from llmmeter.kit.errors import ValidationFailed
from llmmeter.models import AlertChannel, AlertDelivery, AlertEvent, AlertRule, Workspace
from tests.alert.conftest import add_calls
from tests.fixtures.factories import create_workspace
from tests.fixtures.receiver import Mailbox, Receiver

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


async def make_channels(
    db: AsyncSession, workspace_id: uuid.UUID, receiver: Receiver, prefix: str
) -> dict[str, AlertChannel]:
    made = {}
    for kind, target in (
        (ChannelKind.webhook, receiver.url(f"/{prefix}/hook")),
        (ChannelKind.slack, receiver.url(f"/{prefix}/slack")),
        (ChannelKind.pagerduty, "R0UT1NGKEY0123456789abcdefABCDEF"),
        (ChannelKind.email, "oncall@example.com"),
    ):
        issued = await alert_service.create_channel(db, workspace_id, kind, kind.value, target)
        made[kind.value] = issued.channel
    # PagerDuty's Events API, pointed at the local receiver.
    made["pagerduty"].config = {**made["pagerduty"].config, "url": receiver.url(f"/{prefix}/pd")}
    await db.commit()
    return made


async def workspace_with_channels(
    db: AsyncSession, receiver: Receiver, **workspace: Any
) -> tuple[Workspace, str, dict[str, AlertChannel]]:
    """A new workspace with one channel of each kind, pointed at the receiver under a path
    prefix of its own."""
    ws = await create_workspace(db, **workspace)
    await db.commit()
    prefix = uuid.uuid4().hex[:8]
    return ws, prefix, await make_channels(db, ws.id, receiver, prefix)


async def p95_rule(
    db: AsyncSession, workspace_id: uuid.UUID, channels: list[AlertChannel], **form: str
) -> AlertRule:
    fields = {
        "name": "Checkout p95",
        "metric": "latency_p95",
        "scope_kind": "endpoint_tag",
        "scope_value": "checkout",
        "window": "15m",
        "warning": "1000",
        "critical": "2000",
        "cooldown": "5m",
        "data_mode": "real",
        "enabled": "on",
        **form,
    }
    data = parse_rule(fields, [str(c.id) for c in channels])
    rule = await alert_service.save_rule(
        db, WorkspaceScope(workspace_id), workspace_id, data, T0 - timedelta(hours=1)
    )
    await db.commit()
    return rule


async def deliveries(db: AsyncSession, workspace_id: uuid.UUID) -> list[AlertDelivery]:
    stmt = (
        select(AlertDelivery)
        .where(AlertDelivery.workspace_id == workspace_id)
        .order_by(AlertDelivery.created_at)
        .execution_options(populate_existing=True)
    )
    return list((await db.scalars(stmt)).all())


async def events(db: AsyncSession, rule_id: uuid.UUID) -> list[AlertEvent]:
    stmt = select(AlertEvent).where(AlertEvent.rule_id == rule_id).order_by(AlertEvent.created_at)
    return list((await db.scalars(stmt)).all())


async def tick(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, at: datetime
) -> None:
    await alert_service.evaluate_due(sessions, settings, at)
    await alert_service.send_due(sessions, settings, at)


def body(r: Any) -> dict[str, Any]:
    return dict(orjson.loads(r.body))


async def test_p95_rule_fires_once_keeps_cooldown_and_resolves(
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    alert_settings: Settings,
    receiver: Receiver,
    mailbox: Mailbox,
) -> None:
    ws, prefix, channels = await workspace_with_channels(db, receiver, name="Shop")
    rule = await p95_rule(db, ws.id, list(channels.values()))
    inbox_before = len(mailbox.messages)

    # Under the thresholds: nothing happens. Other tags never count.
    await add_calls(
        db, ws.id, 50, latency_ms=400, start=T0 - timedelta(minutes=14), span=timedelta(minutes=13)
    )
    await add_calls(
        db,
        ws.id,
        50,
        latency_ms=9000,
        start=T0 - timedelta(minutes=14),
        span=timedelta(minutes=13),
        tag="search",
    )
    await tick(sessions, alert_settings, T0)
    assert await events(db, rule.id) == []

    # Latency crosses the critical threshold: one event, one message per channel.
    await add_calls(db, ws.id, 50, latency_ms=3000, start=T0, span=timedelta(minutes=1))
    at = T0 + timedelta(minutes=1)
    await tick(sessions, alert_settings, at)
    fired = await events(db, rule.id)
    assert [(e.from_state, e.to_state, e.notified) for e in fired] == [("ok", "critical", True)]
    assert fired[0].value == Decimal(3000)
    sent = await deliveries(db, ws.id)
    assert sorted(d.status for d in sent) == ["sent"] * 4

    # Webhook: signed JSON.
    [hook] = receiver.at(f"/{prefix}/hook")
    signature = hook.headers["x-llmmeter-signature"]
    timestamp = int(signature.split(",")[0].removeprefix("t="))
    secret = channels["webhook"].config["secret"]
    assert signature == sign(secret, timestamp, hook.body)
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + hook.body, hashlib.sha256)
    assert signature.endswith(expected.hexdigest())
    message = body(hook)
    assert message["type"] == "alert.fired"
    assert (message["state"], message["previousState"]) == ("critical", "ok")
    assert message["value"] == 3000
    assert message["threshold"] == 2000
    assert message["rule"]["scope"] == "endpoint_tag = checkout"
    assert message["dashboardUrl"].startswith(f"https://llmmeter.example/app/w/{ws.id}/?")
    assert "tag=checkout" in message["dashboardUrl"]
    assert hook.headers["x-llmmeter-event"] == "alert.fired"

    # Slack incoming webhook: text plus Block Kit blocks with the numbers and a link.
    [slack] = receiver.at(f"/{prefix}/slack")
    s = body(slack)
    assert s["text"].startswith("[CRITICAL] Checkout p95: 3,000 ms")
    assert [b["type"] for b in s["blocks"]] == ["header", "section", "actions"]
    assert s["blocks"][0]["text"]["type"] == "plain_text"
    assert all(f["type"] == "mrkdwn" for f in s["blocks"][1]["fields"])
    assert "2,000 ms" in str(s["blocks"][1]["fields"])
    button = s["blocks"][2]["elements"][0]
    assert button["type"] == "button"
    assert button["url"] == message["dashboardUrl"]

    # PagerDuty Events API v2: a trigger with a stable dedup key.
    [pd] = receiver.at(f"/{prefix}/pd")
    trigger = body(pd)
    assert trigger["routing_key"] == "R0UT1NGKEY0123456789abcdefABCDEF"
    assert trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == f"llmmeter-rule-{rule.id}"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["source"] == "llmmeter"
    assert trigger["payload"]["summary"].startswith("[CRITICAL]")
    datetime.fromisoformat(trigger["payload"]["timestamp"])

    # Email over SMTP.
    [mail] = mailbox.messages[inbox_before:]
    assert mail["To"] == "oncall@example.com"
    assert "Checkout p95" in mail["Subject"]
    assert "3,000 ms" in mail.get_payload()

    # Still critical a minute later: no new event, nothing sent again.
    await tick(sessions, alert_settings, at + timedelta(minutes=1))
    assert len(await events(db, rule.id)) == 1
    assert len(receiver.at(f"/{prefix}/hook")) == 1

    # Latency drops (the slow calls leave the window): resolved, and said so.
    await add_calls(
        db, ws.id, 400, latency_ms=300, start=at + timedelta(minutes=2), span=timedelta(minutes=14)
    )
    later = at + timedelta(minutes=16)
    await tick(sessions, alert_settings, later)
    assert [e.to_state for e in await events(db, rule.id)] == ["critical", "ok"]
    resolved = body(receiver.at(f"/{prefix}/hook")[-1])
    assert resolved["type"] == "alert.resolved"
    resolve = body(receiver.at(f"/{prefix}/pd")[-1])
    assert resolve == {
        "routing_key": "R0UT1NGKEY0123456789abcdefABCDEF",
        "event_action": "resolve",
        "dedup_key": f"llmmeter-rule-{rule.id}",
    }

    # It fires again within the cooldown (5 min after the last message): recorded, not sent.
    await add_calls(db, ws.id, 300, latency_ms=2500, start=later, span=timedelta(seconds=30))
    await tick(sessions, alert_settings, later + timedelta(minutes=1))
    history = await events(db, rule.id)
    assert [(e.to_state, e.notified) for e in history][-1] == ("critical", False)
    assert len(receiver.at(f"/{prefix}/hook")) == 2


async def test_warning_then_escalation_to_critical_both_notify(
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    alert_settings: Settings,
    receiver: Receiver,
) -> None:
    ws, prefix, channels = await workspace_with_channels(db, receiver)
    rule = await p95_rule(db, ws.id, [channels["webhook"]], cooldown="1h")
    await add_calls(db, ws.id, 20, latency_ms=1500, start=T0, span=timedelta(minutes=1))
    await tick(sessions, alert_settings, T0 + timedelta(minutes=1))
    await add_calls(
        db, ws.id, 100, latency_ms=5000, start=T0 + timedelta(minutes=1), span=timedelta(minutes=1)
    )
    await tick(sessions, alert_settings, T0 + timedelta(minutes=2))
    states = [body(r)["state"] for r in receiver.at(f"/{prefix}/hook")]
    assert states == ["warning", "critical"]
    assert [e.to_state for e in await events(db, rule.id)] == ["warning", "critical"]


async def test_a_failing_channel_is_retried_logged_and_blocks_nothing(
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    alert_settings: Settings,
    receiver: Receiver,
) -> None:
    ws, prefix, channels = await workspace_with_channels(db, receiver)
    down = await alert_service.create_channel(
        db, ws.id, ChannelKind.webhook, "down", receiver.url(f"/{prefix}/down")
    )
    dead = await alert_service.create_channel(
        db, ws.id, ChannelKind.slack, "dead", "http://127.0.0.1:9/nothing-listens"
    )
    slow = await alert_service.create_channel(
        db, ws.id, ChannelKind.webhook, "slow", receiver.url(f"/{prefix}/slow")
    )
    await db.commit()
    receiver.status[f"/{prefix}/down"] = 503
    receiver.delay[f"/{prefix}/slow"] = 3.0  # longer than the 1 s timeout
    await p95_rule(db, ws.id, [down.channel, dead.channel, slow.channel, channels["webhook"]])
    await add_calls(db, ws.id, 30, latency_ms=4000, start=T0, span=timedelta(minutes=1))
    at = T0 + timedelta(minutes=1)
    started = datetime.now(UTC)
    await tick(sessions, alert_settings, at)
    assert datetime.now(UTC) - started < timedelta(seconds=3)  # nobody waited on the slow one
    by_channel = {d.channel_id: d for d in await deliveries(db, ws.id)}
    assert by_channel[channels["webhook"].id].status == "sent"
    failed = by_channel[down.channel.id]
    assert (failed.status, failed.attempts, failed.response_code) == ("retrying", 1, 503)
    assert "503" in (failed.error or "")
    assert by_channel[dead.channel.id].status == "retrying"
    assert "Connect" in (by_channel[dead.channel.id].error or "")
    assert "Timeout" in (by_channel[slow.channel.id].error or "")
    assert failed.next_attempt_at == at + timedelta(seconds=10)

    # Not due yet: nothing is resent. After the backoff, the recovered receiver gets it.
    await alert_service.send_due(sessions, alert_settings, at + timedelta(seconds=5))
    assert len(receiver.at(f"/{prefix}/down")) == 1
    receiver.status[f"/{prefix}/down"] = 200
    await alert_service.send_due(sessions, alert_settings, at + timedelta(seconds=11))
    retried = {d.channel_id: d for d in await deliveries(db, ws.id)}[down.channel.id]
    assert (retried.status, retried.attempts, retried.response_code) == ("sent", 2, 200)

    # A channel that keeps failing gives up after six attempts and stays in the log.
    moment = at
    for _ in range(8):
        moment += timedelta(minutes=11)
        await alert_service.send_due(sessions, alert_settings, moment)
    gone = {d.channel_id: d for d in await deliveries(db, ws.id)}[dead.channel.id]
    assert (gone.status, gone.attempts) == ("failed", 6)


async def test_a_4xx_answer_is_not_retried(
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    alert_settings: Settings,
    receiver: Receiver,
) -> None:
    ws = await create_workspace(db)
    await db.commit()
    prefix = uuid.uuid4().hex[:8]
    gone = await alert_service.create_channel(
        db, ws.id, ChannelKind.slack, "gone", receiver.url(f"/{prefix}/gone")
    )
    await db.commit()
    receiver.status[f"/{prefix}/gone"] = 404
    await p95_rule(db, ws.id, [gone.channel])
    await add_calls(db, ws.id, 10, latency_ms=4000, start=T0, span=timedelta(minutes=1))
    await tick(sessions, alert_settings, T0 + timedelta(minutes=1))
    [d] = await deliveries(db, ws.id)
    assert (d.status, d.response_code) == ("failed", 404)


async def test_daily_summary_collects_changes_into_one_message(
    db: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    alert_settings: Settings,
    receiver: Receiver,
) -> None:
    ws, prefix, channels = await workspace_with_channels(db, receiver)
    await p95_rule(db, ws.id, [channels["webhook"]], delivery="daily")
    await tick(sessions, alert_settings, T0 - timedelta(minutes=30))  # starts the period
    await add_calls(db, ws.id, 10, latency_ms=4000, start=T0, span=timedelta(minutes=1))
    await tick(sessions, alert_settings, T0 + timedelta(minutes=1))
    assert receiver.at(f"/{prefix}/hook") == []  # held for the summary
    await tick(sessions, alert_settings, T0 + timedelta(days=1))
    [summary] = receiver.at(f"/{prefix}/hook")
    message = body(summary)
    assert message["type"] == "alert.summary"
    assert [e["to"] for e in message["events"]] == ["critical", "ok"]


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"window": "1m"}, "from 5m to 30d"),
        ({"window": "forever"}, "from 5m to 30d"),
        ({"warning": "", "critical": ""}, "set a warning or a critical"),
        ({"warning": "5", "critical": "1"}, "must not exceed"),
        ({"scope_value": ""}, "needs the value"),
        ({"metric": "vibes"}, "choose a metric"),
        ({"critical": "-3"}, "non-negative"),
        ({"metric": "budget_daily"}, "needs a limit"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(form: dict[str, str], reason: str) -> None:
    fields = {
        "name": "r",
        "metric": "latency_p95",
        "scope_kind": "endpoint_tag",
        "scope_value": "checkout",
        "window": "15m",
        "critical": "2000",
        **form,
    }
    with pytest.raises(ValidationFailed) as info:
        parse_rule(fields, [])
    assert reason in str(info.value.errors)

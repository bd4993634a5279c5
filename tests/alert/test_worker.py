"""Several workers on one database: every due rule is evaluated, and every alert sent, once."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.alert.channels import ChannelKind
from llmmeter.alert.schemas import parse_rule
from llmmeter.alert.service import alert_service
from llmmeter.auth.principal import WorkspaceScope
from llmmeter.config import Settings
from llmmeter.db import create_engine, create_sessionmaker
from llmmeter.models import AlertDelivery, AlertEvent
from tests.alert.conftest import add_calls
from tests.conftest import PG_URL
from tests.fixtures.factories import create_workspace
from tests.fixtures.receiver import Receiver

RULES = 20


async def many_rules(db: AsyncSession, receiver: Receiver, now: datetime) -> tuple[uuid.UUID, str]:
    ws = await create_workspace(db)
    await db.commit()
    path = f"/{uuid.uuid4().hex[:8]}/hook"
    channel = await alert_service.create_channel(
        db, ws.id, ChannelKind.webhook, "hook", receiver.url(path)
    )
    for i in range(RULES):
        data = parse_rule(
            {
                "name": f"rule {i}",
                "metric": "request_count",
                "window": "1h",
                "critical": "1",
                "enabled": "on",
            },
            [str(channel.channel.id)],
        )
        await alert_service.save_rule(db, WorkspaceScope(ws.id), ws.id, data, now)
    await db.commit()
    await add_calls(
        db, ws.id, 5, latency_ms=100, start=now - timedelta(minutes=30), span=timedelta(minutes=10)
    )
    return ws.id, path


async def assert_sent_once(
    db: AsyncSession, receiver: Receiver, ws_id: uuid.UUID, path: str
) -> None:
    rule_ids = [orjson.loads(r.body)["rule"]["id"] for r in receiver.at(path)]
    assert len(rule_ids) == RULES
    assert len(set(rule_ids)) == RULES
    events = await db.scalar(
        select(func.count()).select_from(AlertEvent).where(AlertEvent.workspace_id == ws_id)
    )
    assert events == RULES
    statuses = await db.scalars(
        select(AlertDelivery.status).where(AlertDelivery.workspace_id == ws_id)
    )
    assert list(statuses) == ["sent"] * RULES


async def test_two_concurrent_evaluators_send_each_alert_once(
    db: AsyncSession, pg_settings: Settings, receiver: Receiver
) -> None:
    now = datetime.now(UTC)
    ws_id, path = await many_rules(db, receiver, now)
    engines = [create_engine(pg_settings), create_engine(pg_settings)]
    try:
        makers = [create_sessionmaker(e) for e in engines]
        await asyncio.gather(*(alert_service.evaluate_due(m, pg_settings, now) for m in makers))
        await asyncio.gather(*(alert_service.send_due(m, pg_settings, now) for m in makers))
    finally:
        for e in engines:
            await e.dispose()
    await assert_sent_once(db, receiver, ws_id, path)


@pytest.mark.slow
async def test_two_worker_processes_send_each_alert_once(
    db: AsyncSession, receiver: Receiver
) -> None:
    ws_id, path = await many_rules(db, receiver, datetime.now(UTC))
    env = {k: v for k, v in os.environ.items() if k != "LLMMETER_REDIS_URL"}
    env.update(LLMMETER_DATABASE_URL=PG_URL, LLMMETER_ALERT_HTTP_TIMEOUT_SECONDS="2")
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "llmmeter",
            "worker",
            "--once",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(w.communicate() for w in workers)), 60)
    assert [w.returncode for w in workers] == [0, 0], outputs
    said = b"".join(out for out, _ in outputs).decode()
    evaluated = sum(
        int(part.split()[1]) for part in said.splitlines() if part.startswith("evaluated")
    )
    assert evaluated >= RULES  # other tests' rules may be due as well
    await assert_sent_once(db, receiver, ws_id, path)

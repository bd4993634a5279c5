"""The background worker: refreshes the dashboard rollups, evaluates due alert rules and
drains the delivery outbox, in a loop.
`llmmeter worker` runs it on its own; on the embedded default `llmmeter serve` runs it inside
the app. Any number may run against one database: rules and deliveries are claimed with
row locks, so nothing is evaluated or sent twice."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from llmmeter.alert.service import alert_service
from llmmeter.analytics.rollups import rollup_service
from llmmeter.config import Settings
from llmmeter.kit.time import Clock

log = logging.getLogger("llmmeter.alert")
# Deliveries (and their retries) are picked up at least this often.
TICK_SECONDS = 5.0


async def run_once(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, clock: Clock
) -> tuple[int, int]:
    # Rollups first, so that rules reading long windows see fresh sums.
    await rollup_service.refresh(sessionmaker, clock())
    evaluated = await alert_service.evaluate_due(sessionmaker, settings, clock())
    sent = await alert_service.send_due(sessionmaker, settings, clock())
    return evaluated, sent


async def run_forever(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    clock: Clock,
    stop: asyncio.Event,
) -> None:
    tick = min(TICK_SECONDS, settings.alert_interval_seconds)
    while not stop.is_set():
        try:
            await run_once(sessionmaker, settings, clock)
        except (SQLAlchemyError, OSError) as exc:
            # Storage trouble: say so and try again next tick; the app keeps serving.
            log.warning("alert worker: %s", exc)
        except Exception:
            log.exception("alert worker: unexpected error")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick)

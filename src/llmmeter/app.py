from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from llmmeter import api
from llmmeter.alert import worker as alert_worker
from llmmeter.config import Settings
from llmmeter.db import create_engine, create_sessionmaker
from llmmeter.ingest.batcher import DirectWriter, IngestBatcher
from llmmeter.kit import handlers, openapi, web
from llmmeter.kit.responses import ORJSONResponse
from llmmeter.kit.state import AppState
from llmmeter.kit.time import Clock, utc_now
from llmmeter.limits.service import RateLimiter
from llmmeter.pricing.catalog import PriceCatalog

log = logging.getLogger("llmmeter")

DESCRIPTION = """
Telemetry and cost for LLM calls. The ingest API is wire-compatible with Opsmeter's:
point an Opsmeter client at this base URL and it works unchanged.

Every error answers `{"ok": false, "reason": "…", "message": "…"}`; `reason` is machine-readable:
`validation_error`, `timestamp_out_of_range`, `invalid_api_key`, `rate_limited`,
`plan_limit_reached`, `budget_exceeded`, `payload_too_large`, `unsupported_media_type`,
`unavailable`, `not_found`.
"""


def _redis(settings: Settings) -> Redis:
    timeout = settings.redis_timeout_ms / 1000
    # One short timeout for connecting and for commands: a frozen Redis must not hold ingest
    # up. No retries: redis-py's default (10, with backoff) would turn one timeout into
    # seconds; the in-process fallback is our retry. No CLIENT SETINFO: one round trip less
    # on every new connection.
    return Redis.from_url(
        str(settings.redis_url),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        driver_info=None,
    )


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, AppState]]:
        engine = create_engine(settings)
        redis = _redis(settings) if settings.redis_url else None
        sessionmaker = create_sessionmaker(engine)
        # Group commit on PostgreSQL; SQLite has one connection and one writer anyway.
        batcher = (
            IngestBatcher(
                sessionmaker,
                max_records=settings.ingest_batch_max_records,
                writers=settings.ingest_writers,
            )
            if not settings.embedded and settings.ingest_batch_max_records > 1
            else None
        )
        state = AppState(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            redis=redis,
            clock=clock,
            catalog=PriceCatalog(),
            limiter=RateLimiter(
                redis,
                workers=settings.workers,
                retry_after_failure_s=settings.limiter_probe_seconds,
                lease_window_s=settings.limiter_lease_ms / 1000,
            ),
            templates=web.build_templates(),
            writer=batcher or DirectWriter(sessionmaker),
        )
        # The price catalog and the imported code are a large, permanent object graph; moved
        # out of the collector's sight, a full collection no longer pauses requests ~0.2 s.
        gc.freeze()
        if batcher is not None:
            batcher.start()
        stop = asyncio.Event()
        worker = (
            asyncio.create_task(alert_worker.run_forever(state.sessionmaker, settings, clock, stop))
            if settings.worker_in_app
            else None
        )
        try:
            yield {"app": state}
        finally:
            stop.set()
            if worker is not None:
                await worker
            if batcher is not None:
                await batcher.close()
            await engine.dispose()
            if redis is not None:
                await redis.aclose()

    app = FastAPI(
        title="llmmeter",
        version=version("llmmeter"),
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
    )
    handlers.install(app)
    app.include_router(api.router)
    app.mount("/static", StaticFiles(directory=web.asset_dir("static")), name="static")
    openapi.install(app)
    return app

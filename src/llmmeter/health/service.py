from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.health.repository import health_repository
from llmmeter.kit.errors import Unavailable

log = logging.getLogger(__name__)
TIMEOUT_S = 3.0


class HealthService:
    async def check(self, session: AsyncSession, redis: Redis | None) -> dict[str, Any]:
        try:
            await asyncio.wait_for(health_repository.ping(session), TIMEOUT_S)
        except Exception as exc:
            log.warning("health check: database unreachable: %s", exc)
            raise Unavailable("The database does not answer.") from None
        report: dict[str, Any] = {"ok": True, "database": "ok", "redis": "not_configured"}
        if redis is not None:
            # Ingest keeps working without Redis (in-process limiter), so this only reports.
            try:
                await asyncio.wait_for(redis.ping(), TIMEOUT_S)
                report["redis"] = "ok"
            except Exception:
                report["redis"] = "unreachable"
        return report


health_service = HealthService()

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from llmmeter.db import SessionDep
from llmmeter.health.service import health_service
from llmmeter.kit.state import app_state

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Liveness and database check",
    description="200 `{ok, database, redis}` when the database answers; 503 `unavailable` if not.",
)
async def healthz(request: Request, session: SessionDep) -> dict[str, Any]:
    return await health_service.check(session, app_state(request).redis)

from __future__ import annotations

from fastapi import APIRouter, Request

from llmmeter.auth.dependencies import IngestKey
from llmmeter.db import SessionDep
from llmmeter.diagnostics.schemas import WorkspaceStatus
from llmmeter.diagnostics.service import StatusSubject, diagnostics_service
from llmmeter.ingest.schemas import ErrorResponse
from llmmeter.kit.responses import ORJSONResponse
from llmmeter.kit.state import app_state

router = APIRouter(prefix="/v1/diagnostics", tags=["diagnostics"])


@router.get(
    "/workspace-status",
    summary="Plan, quota and budget posture of the key's workspace",
    description="`severity`: `critical` when the plan quota is used up or a budget is "
    "exceeded, `warning` when a budget passed its warning ratio, else `normal`. Periods are "
    "calendar months and days in the workspace's time zone; `periodEnd` is the last second. "
    "A budget with no limit reports `limitUsd: null` and never warns.",
    response_model=None,
    responses={
        200: {"model": WorkspaceStatus},
        401: {"model": ErrorResponse, "description": "`invalid_api_key`"},
        503: {"model": ErrorResponse, "description": "`unavailable`"},
    },
)
async def workspace_status(
    request: Request, session: SessionDep, principal: IngestKey
) -> ORJSONResponse:
    state = app_state(request)
    subject = StatusSubject(
        principal.workspace_id, principal.plan_tier, principal.time_zone, principal.budget
    )
    body = await diagnostics_service.workspace_status(
        session, state.settings, subject, state.clock()
    )
    return ORJSONResponse(body)

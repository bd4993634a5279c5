"""The dashboard, its htmx partials, chart data, the requests explorer and CSV export."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response, StreamingResponse

from llmmeter.account.service import account_service
from llmmeter.alert.service import alert_service
from llmmeter.analytics.filters import DIMENSION_LABELS, Dimension
from llmmeter.auth.principal import WebPrincipal
from llmmeter.auth.web import Member
from llmmeter.dashboard.schemas import RANGES, View, parse_dimension, parse_sort, parse_view
from llmmeter.dashboard.service import dashboard_service
from llmmeter.db import SessionDep
from llmmeter.kit.responses import ORJSONResponse
from llmmeter.kit.state import app_state
from llmmeter.kit.web import render

router = APIRouter(prefix="/app/w/{workspace_id}", include_in_schema=False)


def _view(request: Request) -> View:
    return parse_view(request.query_params, app_state(request).clock(), ("stack",))


ViewDep = Annotated[View, Depends(_view)]


async def chrome(session: SessionDep, member: WebPrincipal, **ctx: Any) -> dict[str, Any]:
    """What every workspace page's frame shows: who, where, and the workspace switcher."""
    return {
        "member": member,
        "user": member.user,
        "workspace": member.workspace,
        "workspaces": await account_service.workspaces(session, member.user),
        "firing": await alert_service.firing(session, member),
        "ranges": list(RANGES),
        "dimension_labels": DIMENSION_LABELS,
        **ctx,
    }


@router.get("/")
async def dashboard(
    request: Request, session: SessionDep, member: Member, view: ViewDep
) -> Response:
    state = app_state(request)
    ctx = await dashboard_service.page(session, state.settings, member, view, state.clock())
    return render(request, "dashboard/index.html", await chrome(session, member, view=view, **ctx))


@router.get("/partials/overview")
async def overview(
    request: Request, session: SessionDep, member: Member, view: ViewDep
) -> Response:
    state = app_state(request)
    ctx = await dashboard_service.overview(session, state.settings, member, view, state.clock())
    return render(request, "dashboard/_overview.html", {"view": view, "member": member, **ctx})


@router.get("/partials/breakdown")
async def breakdown(
    request: Request,
    session: SessionDep,
    member: Member,
    view: ViewDep,
    by: str | None = None,
    key: Annotated[str | None, Query(max_length=64)] = None,
    sort: str | None = None,
    dir: str | None = None,
) -> Response:
    table = await dashboard_service.breakdown(
        session,
        member,
        view,
        parse_dimension(by),
        meta_key=(key or "").strip() or None,
        sort=parse_sort(sort),
        descending=dir != "asc",
    )
    ctx = {
        "view": view,
        "member": member,
        "table": table,
        "target": request.query_params.get("target", ""),
    }
    return render(request, "dashboard/_breakdown.html", ctx)


@router.get("/partials/movers")
async def movers(request: Request, session: SessionDep, member: Member, view: ViewDep) -> Response:
    ctx = await dashboard_service.movers(session, member, view)
    return render(request, "dashboard/_movers.html", {"view": view, "member": member, **ctx})


@router.get("/series.json")
async def series(
    session: SessionDep, member: Member, view: ViewDep, stack: str | None = None
) -> ORJSONResponse:
    data = await dashboard_service.series(
        session, member, view, parse_dimension(stack, Dimension.endpoint_tag)
    )
    return ORJSONResponse(data)


@router.get("/requests")
async def requests_page(
    request: Request,
    session: SessionDep,
    member: Member,
    view: ViewDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    ctx = await dashboard_service.requests(session, member, view, cursor)
    template = (
        "dashboard/_request_rows.html"
        if request.headers.get("hx-request")
        else "dashboard/requests.html"
    )
    return render(request, template, await chrome(session, member, view=view, **ctx))


@router.get("/requests.csv")
async def export_csv(request: Request, member: Member, view: ViewDep) -> StreamingResponse:
    sessionmaker = app_state(request).sessionmaker
    stamp = app_state(request).clock().strftime("%Y%m%d-%H%M%SZ")
    return StreamingResponse(
        dashboard_service.csv(sessionmaker, member, view),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="llm-requests-{stamp}.csv"'},
    )


@router.get("/requests/{request_id}")
async def request_detail(
    request: Request, session: SessionDep, member: Member, request_id: uuid.UUID
) -> Response:
    row = await dashboard_service.request(session, member, request_id)
    return render(request, "dashboard/request.html", await chrome(session, member, row=row))

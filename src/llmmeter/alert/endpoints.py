"""The alerts page: rules with their state, history, channels, the delivery log."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from llmmeter.alert.channels import ChannelKind
from llmmeter.alert.metrics import METRICS, Metric, format_value
from llmmeter.alert.schemas import DELIVERIES, SCOPES, describe_duration, parse_channel, parse_rule
from llmmeter.alert.service import alert_service, scope_text
from llmmeter.auth.principal import WebPrincipal
from llmmeter.auth.web import Admin, Member
from llmmeter.dashboard.endpoints import chrome
from llmmeter.db import SessionDep
from llmmeter.kit.errors import AppError
from llmmeter.kit.state import app_state
from llmmeter.kit.web import redirect, render, verify_csrf
from llmmeter.models import AlertChannel, AlertRule

router = APIRouter(
    prefix="/app/w/{workspace_id}/alerts",
    include_in_schema=False,
    dependencies=[Depends(verify_csrf)],
)


def masked(channel: AlertChannel) -> str:
    """Secrets are never shown in full once saved."""
    config = channel.config
    if channel.kind == ChannelKind.email:
        return str(config.get("to", ""))
    secret = str(config.get("url") or config.get("routing_key") or "")
    if "://" in secret:
        scheme, rest = secret.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}/…{secret[-4:]}"
    return f"{secret[:4]}…{secret[-4:]}" if len(secret) > 8 else "…"


def _helpers() -> dict[str, Any]:
    return {
        "metrics": METRICS,
        "scopes": SCOPES,
        "delivery_modes": DELIVERIES,
        "kinds": list(ChannelKind),
        "masked": masked,
        "scope_text": scope_text,
        "describe_duration": describe_duration,
        "format_value": lambda rule, value: format_value(Metric(rule.metric), value),
    }


async def _alerts_page(
    request: Request,
    session: AsyncSession,
    member: WebPrincipal,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    ctx = await chrome(
        session,
        member,
        nav="alerts",
        rules=await alert_service.rules(session, member),
        channels=await alert_service.channels(session, member),
        history=await alert_service.history(session, member),
        deliveries=await alert_service.deliveries(session, member),
        interval=app_state(request).settings.alert_interval_seconds,
        **_helpers(),
        **extra,
    )
    return render(request, "alert/index.html", ctx, status_code=status_code)


async def _rule_form(
    request: Request,
    session: AsyncSession,
    member: WebPrincipal,
    rule: AlertRule | None,
    *,
    form: dict[str, str] | None = None,
    error: AppError | None = None,
) -> Response:
    ctx = await chrome(
        session,
        member,
        nav="alerts",
        rule=rule,
        form=form or {},
        error=error,
        channels=await alert_service.channels(session, member),
        **_helpers(),
    )
    return render(request, "alert/rule.html", ctx, status_code=error.status_code if error else 200)


async def _form(request: Request) -> tuple[dict[str, str], list[str]]:
    data = await request.form()
    fields = {k: v for k, v in data.items() if isinstance(v, str) and k != "channels"}
    return fields, [v for v in data.getlist("channels") if isinstance(v, str)]


@router.get("")
async def alerts_page(request: Request, session: SessionDep, member: Member) -> Response:
    return await _alerts_page(request, session, member)


@router.get("/rules/new")
async def new_rule(request: Request, session: SessionDep, member: Admin) -> Response:
    return await _rule_form(request, session, member, None)


async def _save_rule(
    request: Request, session: AsyncSession, member: WebPrincipal, rule: AlertRule | None
) -> Response:
    fields, channel_ids = await _form(request)
    try:
        await alert_service.save_rule(
            session,
            member,
            member.workspace_id,
            parse_rule(fields, channel_ids),
            app_state(request).clock(),
            rule_id=rule.id if rule else None,
        )
    except AppError as exc:
        return await _rule_form(request, session, member, rule, form=fields, error=exc)
    return redirect(request, f"/app/w/{member.workspace_id}/alerts")


@router.post("/rules")
async def create_rule(request: Request, session: SessionDep, member: Admin) -> Response:
    return await _save_rule(request, session, member, None)


@router.get("/rules/{rule_id}")
async def edit_rule(
    request: Request, session: SessionDep, member: Admin, rule_id: uuid.UUID
) -> Response:
    rule = await alert_service.rule(session, member, rule_id)
    return await _rule_form(request, session, member, rule)


@router.post("/rules/{rule_id}")
async def update_rule(
    request: Request, session: SessionDep, member: Admin, rule_id: uuid.UUID
) -> Response:
    rule = await alert_service.rule(session, member, rule_id)
    return await _save_rule(request, session, member, rule)


@router.post("/rules/{rule_id}/delete")
async def delete_rule(
    request: Request, session: SessionDep, member: Admin, rule_id: uuid.UUID
) -> Response:
    await alert_service.delete_rule(session, member, rule_id, app_state(request).clock())
    return redirect(request, f"/app/w/{member.workspace_id}/alerts")


@router.post("/channels")
async def create_channel(request: Request, session: SessionDep, member: Admin) -> Response:
    fields, _ = await _form(request)
    try:
        data = parse_channel(fields)
        issued = await alert_service.create_channel(
            session, member.workspace_id, data.kind, data.name, data.target
        )
    except AppError as exc:
        return await _alerts_page(
            request, session, member, status_code=exc.status_code, error=exc, channel_form=fields
        )
    return await _alerts_page(request, session, member, issued_channel=issued)


@router.post("/channels/{channel_id}/delete")
async def delete_channel(
    request: Request, session: SessionDep, member: Admin, channel_id: uuid.UUID
) -> Response:
    await alert_service.delete_channel(session, member, channel_id)
    return redirect(request, f"/app/w/{member.workspace_id}/alerts")


@router.post("/channels/{channel_id}/test")
async def test_channel(
    request: Request, session: SessionDep, member: Admin, channel_id: uuid.UUID
) -> Response:
    state = app_state(request)
    delivery = await alert_service.send_test(
        session, state.settings, member, member.workspace, channel_id, state.clock()
    )
    return await _alerts_page(request, session, member, tested=delivery)

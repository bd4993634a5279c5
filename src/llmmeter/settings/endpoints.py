"""Workspace settings pages. A failed form re-renders its page with the reason (and the
status code of the error); a successful one redirects back (post/redirect/get), except key
creation and rotation, which answer with the new key once and never again."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from llmmeter.auth.principal import WebPrincipal
from llmmeter.auth.web import Admin, KeyManager, Member
from llmmeter.dashboard.endpoints import chrome
from llmmeter.db import SessionDep
from llmmeter.kit.errors import AppError
from llmmeter.kit.state import app_state
from llmmeter.kit.web import redirect, render, verify_csrf
from llmmeter.settings.schemas import metadata_lines
from llmmeter.settings.service import settings_service

router = APIRouter(
    prefix="/app/w/{workspace_id}/settings",
    include_in_schema=False,
    dependencies=[Depends(verify_csrf)],
)

Field = Annotated[str, Form(max_length=8192)]
Loader = Callable[[], Awaitable[dict[str, Any]]]


async def _page(
    request: Request,
    session: AsyncSession,
    member: WebPrincipal,
    template: str,
    load: Loader,
    *,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    ctx = await chrome(session, member, metadata_lines=metadata_lines, **await load(), **extra)
    return render(request, template, ctx, status_code=status_code)


def _keys(session: AsyncSession, member: WebPrincipal, request: Request) -> Loader:
    return lambda: settings_service.keys(session, member, app_state(request).clock())


async def _failed(
    request: Request,
    session: AsyncSession,
    member: WebPrincipal,
    template: str,
    load: Loader,
    exc: AppError,
    **extra: Any,
) -> Response:
    return await _page(
        request, session, member, template, load, status_code=exc.status_code, error=exc, **extra
    )


# --- API keys -------------------------------------------------------------------------------


@router.get("/keys")
async def keys_page(request: Request, session: SessionDep, member: KeyManager) -> Response:
    return await _page(
        request, session, member, "settings/keys.html", _keys(session, member, request)
    )


async def _issued(
    request: Request, session: AsyncSession, member: WebPrincipal, issued: Any, rotated: bool
) -> Response:
    ctx = {"issued": issued, "rotated": rotated}
    if request.headers.get("hx-request"):
        keys = await settings_service.keys(session, member, app_state(request).clock())
        return render(
            request, "settings/_key_issued.html", {**ctx, **keys, "member": member, "oob": True}
        )
    return await _page(
        request, session, member, "settings/keys.html", _keys(session, member, request), **ctx
    )


@router.post("/keys")
async def create_key(
    request: Request,
    session: SessionDep,
    member: KeyManager,
    name: Field,
    mode: Field = "live",
    metadata: Field = "",
) -> Response:
    try:
        issued = await settings_service.create_key(session, member, name, mode, metadata)
    except AppError as exc:
        load = _keys(session, member, request)
        return await _failed(request, session, member, "settings/keys.html", load, exc)
    return await _issued(request, session, member, issued, rotated=False)


@router.post("/keys/{key_id}/rotate")
async def rotate_key(
    request: Request,
    session: SessionDep,
    member: KeyManager,
    key_id: uuid.UUID,
    grace: Field = "none",
) -> Response:
    now = app_state(request).clock()
    issued = await settings_service.rotate_key(session, member, key_id, grace, now)
    return await _issued(request, session, member, issued, rotated=True)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(
    request: Request, session: SessionDep, member: KeyManager, key_id: uuid.UUID
) -> Response:
    await settings_service.revoke_key(session, member, key_id, app_state(request).clock())
    return redirect(request, f"/app/w/{member.workspace_id}/settings/keys")


@router.post("/keys/{key_id}/metadata")
async def key_metadata(
    request: Request,
    session: SessionDep,
    member: KeyManager,
    key_id: uuid.UUID,
    metadata: Field = "",
) -> Response:
    try:
        await settings_service.set_key_metadata(session, member, key_id, metadata)
    except AppError as exc:
        load = _keys(session, member, request)
        return await _failed(request, session, member, "settings/keys.html", load, exc)
    return redirect(request, f"/app/w/{member.workspace_id}/settings/keys")


# --- Budgets, plan and usage, metadata defaults, data hygiene -------------------------------


def _general(session: AsyncSession, member: WebPrincipal, request: Request) -> Loader:
    state = app_state(request)
    return lambda: settings_service.general(session, state.settings, member, state.clock())


@router.get("")
async def general_page(request: Request, session: SessionDep, member: Member) -> Response:
    load = _general(session, member, request)
    return await _page(request, session, member, "settings/general.html", load)


@router.post("/budget")
async def set_budget(
    request: Request,
    session: SessionDep,
    member: Admin,
    daily: Field = "",
    monthly: Field = "",
    warning_ratio: Field = "0.8",
    policy: Field = "observe",
) -> Response:
    try:
        await settings_service.set_budget(
            session,
            member,
            daily=daily,
            monthly=monthly,
            warning_ratio=warning_ratio,
            policy=policy,
        )
    except AppError as exc:
        load = _general(session, member, request)
        return await _failed(request, session, member, "settings/general.html", load, exc)
    return redirect(request, f"/app/w/{member.workspace_id}/settings?saved=budget")


@router.post("/metadata")
async def set_metadata(
    request: Request, session: SessionDep, member: Admin, metadata: Field = ""
) -> Response:
    try:
        await settings_service.set_metadata(session, member, metadata)
    except AppError as exc:
        load = _general(session, member, request)
        return await _failed(request, session, member, "settings/general.html", load, exc)
    return redirect(request, f"/app/w/{member.workspace_id}/settings?saved=metadata")


@router.post("/data")
async def delete_test_data(
    request: Request, session: SessionDep, member: Member, scope: Field = "mine"
) -> Response:
    try:
        deleted = await settings_service.delete_test_data(session, member, scope)
    except AppError as exc:
        load = _general(session, member, request)
        return await _failed(request, session, member, "settings/general.html", load, exc)
    return redirect(request, f"/app/w/{member.workspace_id}/settings?deleted={deleted}")


# --- Price overrides -----------------------------------------------------------------------


@router.get("/pricing")
async def pricing_page(request: Request, session: SessionDep, member: Member) -> Response:
    load = lambda: settings_service.pricing(session, member)  # noqa: E731
    return await _page(request, session, member, "settings/pricing.html", load)


@router.post("/pricing")
async def add_override(
    request: Request,
    session: SessionDep,
    member: Admin,
    provider: Field,
    model: Field,
    input_per_1m: Field,
    output_per_1m: Field,
    cached_input_per_1m: Field = "",
    effective_at: Field = "",
) -> Response:
    form = {
        "provider": provider,
        "model": model,
        "input_per_1m": input_per_1m,
        "output_per_1m": output_per_1m,
        "cached_input_per_1m": cached_input_per_1m,
        "effective_at": effective_at,
    }
    try:
        await settings_service.add_override(session, member, form, app_state(request).clock())
    except AppError as exc:
        load = lambda: settings_service.pricing(session, member)  # noqa: E731
        return await _failed(
            request, session, member, "settings/pricing.html", load, exc, form=form
        )
    return redirect(request, f"/app/w/{member.workspace_id}/settings/pricing")


# --- Members and invitations ---------------------------------------------------------------


def _members(session: AsyncSession, member: WebPrincipal, request: Request) -> Loader:
    return lambda: settings_service.members(session, member, app_state(request).clock())


@router.get("/members")
async def members_page(request: Request, session: SessionDep, member: Member) -> Response:
    load = _members(session, member, request)
    return await _page(request, session, member, "settings/members.html", load)


@router.post("/invitations")
async def invite(
    request: Request,
    session: SessionDep,
    member: Admin,
    role: Field = "member",
    note: Field = "",
) -> Response:
    load = _members(session, member, request)
    now = app_state(request).clock()
    try:
        issued = await settings_service.invite(session, member, role, note, now)
    except AppError as exc:
        return await _failed(request, session, member, "settings/members.html", load, exc)
    link = str(request.base_url).rstrip("/") + f"/invite/{issued.token}"
    return await _page(request, session, member, "settings/members.html", load, invite_link=link)


@router.post("/invitations/{invitation_id}/revoke")
async def revoke_invitation(
    request: Request, session: SessionDep, member: Admin, invitation_id: uuid.UUID
) -> Response:
    await settings_service.revoke_invitation(
        session, member, invitation_id, app_state(request).clock()
    )
    return redirect(request, f"/app/w/{member.workspace_id}/settings/members")


@router.post("/members/{membership_id}/role")
async def set_role(
    request: Request,
    session: SessionDep,
    member: Admin,
    membership_id: uuid.UUID,
    role: Field,
) -> Response:
    try:
        await settings_service.set_role(session, member, membership_id, role)
    except AppError as exc:
        load = _members(session, member, request)
        return await _failed(request, session, member, "settings/members.html", load, exc)
    return redirect(request, f"/app/w/{member.workspace_id}/settings/members")


@router.post("/members/{membership_id}/remove")
async def remove_member(
    request: Request, session: SessionDep, member: Admin, membership_id: uuid.UUID
) -> Response:
    try:
        await settings_service.remove_member(session, member, membership_id)
    except AppError as exc:
        load = _members(session, member, request)
        return await _failed(request, session, member, "settings/members.html", load, exc)
    return redirect(request, f"/app/w/{member.workspace_id}/settings/members")

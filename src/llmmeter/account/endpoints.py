"""Pages outside a workspace: first run, sign-up, sign-in, sign-out, invitations, account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from llmmeter.account.service import Client, account_service
from llmmeter.auth.service import SESSION_LIFETIME
from llmmeter.auth.web import CurrentUser, MaybeUser
from llmmeter.config import PlanTier
from llmmeter.db import SessionDep
from llmmeter.kit.errors import AppError
from llmmeter.kit.state import app_state
from llmmeter.kit.web import SESSION_COOKIE, redirect, render, safe_next, set_cookie, verify_csrf
from llmmeter.member.service import member_service

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

Text = Annotated[str, Form(max_length=4096)]


def _client(request: Request) -> Client:
    address = request.client.host if request.client else "unknown"
    return Client(address=address, user_agent=request.headers.get("user-agent"))


def _signed_in(request: Request, target: str, token: str) -> Response:
    response = redirect(request, target)
    set_cookie(
        request, response, SESSION_COOKIE, token, max_age=int(SESSION_LIFETIME.total_seconds())
    )
    return response


@router.get("/")
async def home(request: Request, session: SessionDep, signed_in: MaybeUser) -> Response:
    if signed_in is not None:
        return redirect(request, await account_service.landing(session, signed_in.user))
    if await account_service.needs_setup(session):
        return redirect(request, "/setup")
    return redirect(request, "/signin")


@router.get("/setup")
async def setup_page(request: Request, session: SessionDep) -> Response:
    if not await account_service.needs_setup(session):
        return redirect(request, "/signin")
    return render(request, "account/setup.html", {"form": {}})


@router.post("/setup")
async def setup(
    request: Request,
    session: SessionDep,
    email: Text,
    password: Text,
    name: Annotated[str, Form(max_length=4096)] = "",
    workspace_name: Annotated[str, Form(max_length=4096)] = "My workspace",
) -> Response:
    state = app_state(request)
    now = state.clock()
    try:
        user, workspace_id = await account_service.setup(
            session,
            email=email,
            password=password,
            name=name,
            workspace_name=workspace_name,
            plan=state.settings.default_plan,
            now=now,
        )
    except AppError as exc:
        form = {"email": email, "name": name, "workspace_name": workspace_name}
        return render(
            request, "account/setup.html", {"error": exc, "form": form}, status_code=exc.status_code
        )
    token = await account_service.start_session(session, user, _client(request), now)
    return _signed_in(request, f"/app/w/{workspace_id}/", token)


@router.get("/signup")
async def signup_page(request: Request, next: str | None = None) -> Response:
    return render(request, "account/signup.html", {"form": {}, "next": safe_next(next)})


@router.post("/signup")
async def signup(
    request: Request,
    session: SessionDep,
    email: Text,
    password: Text,
    name: Annotated[str, Form(max_length=4096)] = "",
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    state = app_state(request)
    now = state.clock()
    try:
        user = await account_service.sign_up(
            session,
            email=email,
            password=password,
            name=name,
            allowed=state.settings.allow_signup,
            now=now,
        )
    except AppError as exc:
        ctx = {"error": exc, "form": {"email": email, "name": name}, "next": safe_next(next)}
        return render(request, "account/signup.html", ctx, status_code=exc.status_code)
    token = await account_service.start_session(session, user, _client(request), now)
    target = safe_next(next, await account_service.landing(session, user))
    return _signed_in(request, target, token)


@router.get("/signin")
async def signin_page(request: Request, next: str | None = None) -> Response:
    return render(request, "account/signin.html", {"form": {}, "next": safe_next(next)})


@router.post("/signin")
async def signin(
    request: Request,
    session: SessionDep,
    email: Text,
    password: Text,
    next: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    now = app_state(request).clock()
    try:
        user = await account_service.sign_in(session, email, password, _client(request), now)
    except AppError as exc:
        # Rendered, not raised: the failed attempt must be committed to count.
        ctx = {"error": exc, "form": {"email": email}, "next": safe_next(next)}
        return render(
            request, "account/signin.html", ctx, status_code=exc.status_code, headers=exc.headers
        )
    token = await account_service.start_session(session, user, _client(request), now)
    target = safe_next(next, await account_service.landing(session, user))
    return _signed_in(request, target, token)


@router.post("/signout")
async def signout(request: Request, session: SessionDep, signed_in: MaybeUser) -> Response:
    if signed_in is not None:
        await account_service.sign_out(session, signed_in, app_state(request).clock())
    response = redirect(request, "/signin")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/invite/{token}")
async def invitation_page(
    request: Request, token: str, session: SessionDep, signed_in: MaybeUser
) -> Response:
    invitation, workspace = await member_service.pending(session, token, app_state(request).clock())
    ctx = {"invitation": invitation, "workspace": workspace, "token": token, "user": signed_in}
    return render(request, "account/invite.html", ctx)


@router.post("/invite/{token}")
async def accept_invitation(
    request: Request, token: str, session: SessionDep, signed_in: CurrentUser
) -> Response:
    workspace = await member_service.accept(
        session, token, signed_in.user, app_state(request).clock()
    )
    return redirect(request, f"/app/w/{workspace.id}/")


@router.get("/app")
async def app_home(request: Request, session: SessionDep, signed_in: CurrentUser) -> Response:
    return redirect(request, await account_service.landing(session, signed_in.user))


@router.get("/app/workspaces/new")
async def new_workspace_page(
    request: Request, session: SessionDep, signed_in: CurrentUser
) -> Response:
    workspaces = await account_service.workspaces(session, signed_in.user)
    ctx = {"user": signed_in.user, "workspaces": workspaces, "form": {}}
    return render(request, "account/new_workspace.html", ctx)


@router.post("/app/workspaces")
async def create_workspace(
    request: Request,
    session: SessionDep,
    signed_in: CurrentUser,
    name: Text,
    time_zone: Annotated[str, Form(max_length=64)] = "UTC",
) -> Response:
    settings = app_state(request).settings
    try:
        workspace = await member_service.create_workspace(
            session, signed_in.user, name, PlanTier(settings.default_plan), time_zone
        )
    except AppError as exc:
        workspaces = await account_service.workspaces(session, signed_in.user)
        ctx = {
            "user": signed_in.user,
            "workspaces": workspaces,
            "error": exc,
            "form": {"name": name, "time_zone": time_zone},
        }
        return render(request, "account/new_workspace.html", ctx, status_code=exc.status_code)
    return redirect(request, f"/app/w/{workspace.id}/settings/keys")


@router.get("/app/account")
async def account_page(request: Request, session: SessionDep, signed_in: CurrentUser) -> Response:
    workspaces = await account_service.workspaces(session, signed_in.user)
    ctx = {"user": signed_in.user, "workspaces": workspaces}
    return render(request, "account/account.html", ctx)


@router.post("/app/account/password")
async def change_password(
    request: Request,
    session: SessionDep,
    signed_in: CurrentUser,
    current: Text,
    new: Text,
) -> Response:
    try:
        await account_service.change_password(
            session, signed_in, current, new, app_state(request).clock()
        )
    except AppError as exc:
        workspaces = await account_service.workspaces(session, signed_in.user)
        ctx = {"user": signed_in.user, "workspaces": workspaces, "error": exc}
        return render(request, "account/account.html", ctx, status_code=exc.status_code)
    workspaces = await account_service.workspaces(session, signed_in.user)
    ctx = {"user": signed_in.user, "workspaces": workspaces, "saved": True}
    return render(request, "account/account.html", ctx)

"""Who is signed in, and in which workspace they act: the page routes' dependencies."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from llmmeter.auth.principal import WebPrincipal, WorkspaceScope
from llmmeter.auth.service import SignedIn, web_session_service
from llmmeter.db import SessionDep
from llmmeter.kit.errors import NotFound
from llmmeter.kit.state import app_state
from llmmeter.kit.web import SESSION_COOKIE, Forbidden, SignInRequired
from llmmeter.member.roles import Permission
from llmmeter.member.service import member_service
from llmmeter.workspace.service import workspace_service


async def optional_user(request: Request, session: SessionDep) -> SignedIn | None:
    now = app_state(request).clock()
    return await web_session_service.resolve(session, request.cookies.get(SESSION_COOKIE), now)


async def current_user(
    signed_in: Annotated[SignedIn | None, Depends(optional_user)],
) -> SignedIn:
    if signed_in is None:
        raise SignInRequired()
    return signed_in


MaybeUser = Annotated[SignedIn | None, Depends(optional_user)]
CurrentUser = Annotated[SignedIn, Depends(current_user)]


async def workspace_member(
    workspace_id: uuid.UUID, signed_in: CurrentUser, session: SessionDep
) -> WebPrincipal:
    role = await member_service.role_of(session, signed_in.user.id, workspace_id)
    if role is None:
        # Another workspace looks exactly like one that does not exist.
        raise NotFound("No such workspace.")
    workspace = await workspace_service.get(session, WorkspaceScope(workspace_id))
    return WebPrincipal(signed_in.user, signed_in.web_session, workspace, role)


Member = Annotated[WebPrincipal, Depends(workspace_member)]


def allowed(permission: Permission) -> Callable[[WebPrincipal], Awaitable[WebPrincipal]]:
    async def check(member: Member) -> WebPrincipal:
        if not member.can(permission):
            raise Forbidden(f"Your role ({member.role}) does not allow this in this workspace.")
        return member

    return check


KeyManager = Annotated[WebPrincipal, Depends(allowed(Permission.manage_keys))]
Admin = Annotated[WebPrincipal, Depends(allowed(Permission.manage_workspace))]

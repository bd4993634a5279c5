from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from llmmeter.api_key.service import api_key_service
from llmmeter.auth.principal import IngestPrincipal
from llmmeter.db import SessionDep
from llmmeter.kit.state import app_state


def presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


async def ingest_principal(request: Request, session: SessionDep) -> IngestPrincipal:
    state = app_state(request)
    return await api_key_service.authenticate(
        session, presented_key(request), state.clock(), state.settings.api_key_cache_seconds
    )


IngestKey = Annotated[IngestPrincipal, Depends(ingest_principal)]

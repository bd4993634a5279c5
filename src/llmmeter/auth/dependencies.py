from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from llmmeter.api_key.service import api_key_service
from llmmeter.auth.principal import IngestPrincipal
from llmmeter.kit.state import app_state


def presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


async def ingest_principal(request: Request) -> IngestPrincipal:
    """The key's principal; the database is read (in a short transaction of its own) only when
    this worker has not read the key in the last `api_key_cache_seconds`."""
    state = app_state(request)
    raw, now = presented_key(request), state.clock()
    principal = api_key_service.authenticate_cached(raw, now)
    if principal is not None:
        return principal
    async with state.sessionmaker() as session:
        principal = await api_key_service.authenticate(
            session, raw, now, state.settings.api_key_cache_seconds
        )
        await session.commit()
    return principal


IngestKey = Annotated[IngestPrincipal, Depends(ingest_principal)]

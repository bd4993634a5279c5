from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from llmmeter.api_key.service import api_key_service
from llmmeter.auth.principal import IngestPrincipal
from llmmeter.kit.state import AppState, app_state


def presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


# Key reads in flight in this worker, by key: when a cached entry expires under load, the
# requests that find it missing wait for one read instead of each sending their own.
_reads: dict[str, asyncio.Task[IngestPrincipal]] = {}


async def ingest_principal(request: Request) -> IngestPrincipal:
    """The key's principal; the database is read (in a short transaction of its own) only when
    this worker has not read the key in the last `api_key_cache_seconds`."""
    state = app_state(request)
    raw, now = presented_key(request), state.clock()
    principal = api_key_service.authenticate_cached(raw, now)
    if principal is not None:
        return principal
    assert raw is not None  # authenticate_cached refuses a missing key
    read = _reads.get(raw)
    if read is None:
        read = asyncio.create_task(_read_key(state, raw, now))
        _reads[raw] = read
        read.add_done_callback(_forget)
    # Shielded: one client going away does not cancel the read the others wait for.
    return await asyncio.shield(read)


def _forget(read: asyncio.Task[IngestPrincipal]) -> None:
    for raw, task in list(_reads.items()):
        if task is read:
            del _reads[raw]
    if not read.cancelled():
        read.exception()  # retrieved here too: its requesters may all have gone away


async def _read_key(state: AppState, raw: str, now: datetime) -> IngestPrincipal:
    async with state.sessionmaker() as session:
        principal = await api_key_service.authenticate(
            session, raw, now, state.settings.api_key_cache_seconds
        )
        await session.commit()
    return principal


IngestKey = Annotated[IngestPrincipal, Depends(ingest_principal)]

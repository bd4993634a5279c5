from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from llmmeter.auth.dependencies import IngestKey
from llmmeter.auth.principal import IngestPrincipal
from llmmeter.ingest.service import IngestContext
from llmmeter.kit.body import check_declared_size
from llmmeter.kit.state import app_state

# Every dependency here is `async def`: FastAPI runs plain `def` ones in a thread pool, a
# thread hop per request on the hottest route.

HEADER_VALUE_MAX = 128


async def single_size(request: Request) -> None:
    check_declared_size(request, app_state(request).settings.max_body_bytes)


async def batch_size(request: Request) -> None:
    check_declared_size(request, app_state(request).settings.max_batch_body_bytes)


def _context(request: Request, principal: IngestPrincipal, forced: str | None) -> IngestContext:
    state = app_state(request)
    headers = {
        name: value[:HEADER_VALUE_MAX]
        for name in state.settings.headers_to_metadata
        if (value := request.headers.get(name)) is not None
    }
    ctx = IngestContext(
        principal=principal,
        now=state.clock(),
        settings=state.settings,
        catalog=state.catalog,
        limiter=state.limiter,
        header_metadata=headers,
        forced_data_mode=forced,
        sessionmaker=state.sessionmaker,
        writer=state.writer,
    )
    # The error handler adds these to refusals too (429 aside, which carries its own).
    request.state.response_headers = ctx.response_headers
    return ctx


async def ingest_context(request: Request, principal: IngestKey) -> IngestContext:
    return _context(request, principal, None)


async def demo_context(request: Request, principal: IngestKey) -> IngestContext:
    return _context(request, principal, "demo")


IngestCtx = Annotated[IngestContext, Depends(ingest_context)]
DemoCtx = Annotated[IngestContext, Depends(demo_context)]

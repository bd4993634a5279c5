from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from llmmeter.auth.dependencies import IngestKey
from llmmeter.auth.principal import IngestPrincipal
from llmmeter.ingest.service import IngestContext
from llmmeter.kit.body import check_declared_size
from llmmeter.kit.state import app_state

HEADER_VALUE_MAX = 128


def single_size(request: Request) -> None:
    check_declared_size(request, app_state(request).settings.max_body_bytes)


def batch_size(request: Request) -> None:
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
        batcher=state.batcher,
    )
    # The error handler adds these to refusals too (429 aside, which carries its own).
    request.state.response_headers = ctx.response_headers
    return ctx


def ingest_context(request: Request, principal: IngestKey) -> IngestContext:
    return _context(request, principal, None)


def demo_context(request: Request, principal: IngestKey) -> IngestContext:
    return _context(request, principal, "demo")


IngestCtx = Annotated[IngestContext, Depends(ingest_context)]
DemoCtx = Annotated[IngestContext, Depends(demo_context)]

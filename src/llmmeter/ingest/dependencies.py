from __future__ import annotations

from fastapi import Request

from llmmeter.auth.dependencies import ingest_principal
from llmmeter.auth.principal import IngestPrincipal
from llmmeter.ingest.service import IngestContext
from llmmeter.kit.body import check_declared_size
from llmmeter.kit.state import app_state

# The ingest routes call these themselves instead of declaring them as FastAPI dependencies:
# solving a route's dependency graph was ~7 % of a worker's CPU on the hottest route.

HEADER_VALUE_MAX = 128


async def single_context(request: Request) -> IngestContext:
    """Size (as declared), then the key: the first two checks of every single-record ingest."""
    check_declared_size(request, app_state(request).settings.max_body_bytes)
    return _context(request, await ingest_principal(request), None)


async def demo_context(request: Request) -> IngestContext:
    check_declared_size(request, app_state(request).settings.max_body_bytes)
    return _context(request, await ingest_principal(request), "demo")


async def batch_context(request: Request) -> IngestContext:
    check_declared_size(request, app_state(request).settings.max_batch_body_bytes)
    return _context(request, await ingest_principal(request), None)


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

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from llmmeter.auth.dependencies import IngestKey
from llmmeter.ingest.service import IngestContext
from llmmeter.kit.body import check_declared_size
from llmmeter.kit.state import app_state

HEADER_VALUE_MAX = 128


def single_size(request: Request) -> None:
    check_declared_size(request, app_state(request).settings.max_body_bytes)


def batch_size(request: Request) -> None:
    check_declared_size(request, app_state(request).settings.max_batch_body_bytes)


def ingest_context(request: Request, principal: IngestKey) -> IngestContext:
    state = app_state(request)
    headers = {
        name: value[:HEADER_VALUE_MAX]
        for name in state.settings.headers_to_metadata
        if (value := request.headers.get(name)) is not None
    }
    forced = "demo" if request.url.path.endswith("/demo") else None
    return IngestContext(
        principal=principal,
        now=state.clock(),
        settings=state.settings,
        catalog=state.catalog,
        header_metadata=headers,
        forced_data_mode=forced,
    )


IngestCtx = Annotated[IngestContext, Depends(ingest_context)]

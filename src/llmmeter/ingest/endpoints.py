from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from llmmeter.db import SessionDep
from llmmeter.ingest.dependencies import batch_context, demo_context, single_context
from llmmeter.ingest.schemas import (
    BatchResponse,
    ErrorResponse,
    IngestResponse,
    LLMRequestBatchIn,
    LLMRequestIn,
    RefusalResponse,
)
from llmmeter.ingest.service import ingest_service
from llmmeter.kit.body import read_json
from llmmeter.kit.openapi import json_body
from llmmeter.kit.responses import ORJSONResponse

router = APIRouter(prefix="/v1/ingest", tags=["ingest"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Body is not JSON (`validation_error`)."},
    401: {
        "model": ErrorResponse,
        "description": "Missing, unknown, revoked or expired key (`invalid_api_key`).",
    },
    402: {
        "model": RefusalResponse,
        "description": "Monthly plan quota used up (`plan_limit_reached`: `telemetryPaused: true`, "
        "`providerCallsContinue: true` — keep calling your LLM), or a budget exceeded under the "
        "`hard_stop` policy (`budget_exceeded`). Nothing is stored; duplicates of stored calls "
        "are still answered 200. The body carries the plan and budget fields.",
    },
    413: {"model": ErrorResponse, "description": "Body over the limit (`payload_too_large`)."},
    415: {
        "model": ErrorResponse,
        "description": "Content-Type is not JSON (`unsupported_media_type`).",
    },
    422: {
        "model": ErrorResponse,
        "description": "Invalid fields, all listed in `errors` (`validation_error`), or createdAt "
        "outside [now − 30 days, now + 5 min] (`timestamp_out_of_range`).",
    },
    429: {
        "model": ErrorResponse,
        "description": "Plan rate limit (`rate_limited`), counted in records; `Retry-After` "
        "(whole seconds, ≥ 1) says when the same request will be admitted. Every answer after "
        "authentication carries `RateLimit-Limit` (the burst), `RateLimit-Remaining` and "
        "`RateLimit-Reset` (seconds until the bucket is full).",
    },
    503: {
        "model": ErrorResponse,
        "description": "Storage unavailable; `Retry-After` (`unavailable`).",
    },
}

_SINGLE_DOC = """
Reports one LLM call. Authenticate with `X-API-Key` (or `Authorization: Bearer`); the
workspace comes from the key only.

**Idempotency**: one row per (workspace, `externalRequestId`). A retry with an identical record
answers 200 `deduplicated: true, updated: false` with the original `requestId`. A different
record replaces a stored `error` (`updated: true`); a stored `success` is final
(`updated: false`). The call counts once toward quota and cost either way. Rejected
requests store nothing.

**Pricing**: server-side from the dated catalog (genai-prices) or the workspace's
overrides in force at the call's time (`createdAt`, else receipt); the rate is snapshotted
on the row. An unpriced model stores `costUsd: 0`, `pricingStatus: "unknown"` and adds
`unknown_model` to `warnings`.

**Warnings**: `unknown_model`; `unknown_field:<name>` for each ignored top-level field.

**Metadata precedence**: workspace defaults > API key defaults > request (operator-listed headers
over body metadata). `metadata._user` beats `userId` for grouping; else `userId` is copied there.

Body limit 64 KiB. Missing `Content-Type` is read as JSON.
"""


@router.post(
    "/llm-request",
    summary="Ingest one LLM call",
    description=_SINGLE_DOC,
    response_model=None,
    responses={200: {"model": IngestResponse}, **_ERRORS},
    openapi_extra=json_body(LLMRequestIn),
)
async def ingest_llm_request(request: Request) -> ORJSONResponse:
    ctx = await single_context(request)
    payload = await read_json(request, ctx.settings.max_body_bytes)
    body = await ingest_service.ingest_one(ctx, payload)
    return ORJSONResponse(body, headers=ctx.response_headers)


@router.post(
    "/llm-requests",
    summary="Ingest up to 500 LLM calls",
    description='Body `{"requests": [...]}`, 1–500 records, 1 MiB. Each record is judged on '
    "its own: one bad item never rejects the others; `results[i]` answers item `i` with "
    "`reason` and `errors` when rejected. `accepted` counts every stored or deduplicated "
    "item, `deduplicated` those of them already stored. Same rules per record as the single "
    "endpoint; the rate limit counts records.",
    response_model=None,
    responses={200: {"model": BatchResponse}, **_ERRORS},
    openapi_extra=json_body(LLMRequestBatchIn),
)
async def ingest_llm_requests(request: Request, session: SessionDep) -> ORJSONResponse:
    ctx = await batch_context(request)
    payload = await read_json(request, ctx.settings.max_batch_body_bytes)
    body = await ingest_service.ingest_batch(session, ctx, payload)
    return ORJSONResponse(body, headers=ctx.response_headers)


@router.post(
    "/demo",
    summary="Ingest one demo LLM call",
    description="Same body and answer as `/v1/ingest/llm-request`; always stored with "
    "`dataMode = demo`, whatever the body says.",
    response_model=None,
    responses={200: {"model": IngestResponse}, **_ERRORS},
    openapi_extra=json_body(LLMRequestIn),
)
async def ingest_demo(request: Request) -> ORJSONResponse:
    ctx = await demo_context(request)
    payload = await read_json(request, ctx.settings.max_body_bytes)
    body = await ingest_service.ingest_one(ctx, payload)
    return ORJSONResponse(body, headers=ctx.response_headers)

"""The straightforward design, for comparison: one FastAPI route, a SQLAlchemy async session,
pydantic body parsing, a key lookup, the library's price call, one INSERT … ON CONFLICT and
one COMMIT per request, and one Redis call per request. Same schema as llmmeter.

Run: LLMMETER_DATABASE_URL=… LLMMETER_REDIS_URL=… uvicorn bench.baseline_app:app --workers 2
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException
from genai_prices import Usage, calc_price
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from llmmeter.models import ApiKey, LLMRequest

DB_URL = os.environ["LLMMETER_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://")
engine = create_async_engine(DB_URL, pool_size=10, max_overflow=10)
sessions = async_sessionmaker(engine, expire_on_commit=False)
redis = Redis.from_url(os.environ.get("LLMMETER_REDIS_URL", "redis://127.0.0.1:6379/0"))
app = FastAPI()


class Record(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel)

    external_request_id: str
    provider: str
    model: str
    status: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: int | None = None
    prompt_version: str = "unknown"
    endpoint_tag: str = "unknown"
    user_id: str | None = None
    metadata: dict[str, Any] = {}


async def session() -> AsyncIterator[AsyncSession]:
    async with sessions() as s:
        yield s


async def _key(s: AsyncSession, raw: str) -> ApiKey:
    key = await s.scalar(
        select(ApiKey).where(ApiKey.key_hash == hashlib.sha256(raw.encode()).digest())
    )
    if key is None:
        raise HTTPException(401, "invalid_api_key")
    return key


def _row(r: Record, key: ApiKey, now: datetime) -> dict[str, Any]:
    """The record priced by the library, as a row."""
    try:
        usage = Usage(input_tokens=r.input_tokens, output_tokens=r.output_tokens)
        price = calc_price(usage, r.model, provider_id=r.provider)
        cost, status = int(price.total_price * 1_000_000_000), "priced"
    except LookupError:
        cost, status = 0, "unknown"
    return {
        "id": uuid.uuid4(),
        "workspace_id": key.workspace_id,
        "api_key_id": key.id,
        "external_request_id": r.external_request_id,
        "provider": r.provider.lower(),
        "model": r.model,
        "status": r.status,
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
        "total_tokens": r.input_tokens + r.output_tokens,
        "latency_ms": r.latency_ms,
        "prompt_version": r.prompt_version,
        "endpoint_tag": r.endpoint_tag,
        "user_id": r.user_id,
        "data_mode": "real",
        "environment": "prod",
        "request_metadata": {k: str(v) for k, v in r.metadata.items()},
        "created_at": now,
        "received_at": now,
        "updated_at": now,
        "cost_nano_usd": cost,
        "pricing_status": status,
        "attempts": 1,
        "fingerprint": b"\0" * 32,
    }


@app.post("/v1/ingest/llm-request")
async def ingest(
    body: Record,
    s: Annotated[AsyncSession, Depends(session)],
    x_api_key: Annotated[str, Header()],
) -> dict[str, Any]:
    key = await _key(s, x_api_key)
    await redis.incr(f"baseline:rate:{key.workspace_id}")
    row = _row(body, key, datetime.now(UTC))
    stmt = (
        insert(LLMRequest)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["workspace_id", "external_request_id"])
        .returning(LLMRequest.id)
    )
    inserted = await s.scalar(stmt)
    await s.commit()
    return {
        "ok": True,
        "requestId": str(inserted or row["id"]),
        "deduplicated": inserted is None,
        "costUsd": row["cost_nano_usd"] / 1e9,
        "pricingStatus": row["pricing_status"],
    }


class Batch(BaseModel):
    requests: list[Record]


@app.post("/v1/ingest/llm-requests")
async def ingest_batch(
    body: Batch,
    s: Annotated[AsyncSession, Depends(session)],
    x_api_key: Annotated[str, Header()],
) -> dict[str, Any]:
    """The straightforward batch: price each record, one executemany, one commit."""
    key = await _key(s, x_api_key)
    await redis.incrby(f"baseline:rate:{key.workspace_id}", len(body.requests))
    now = datetime.now(UTC)
    rows = [_row(r, key, now) for r in body.requests]
    stmt = insert(LLMRequest).on_conflict_do_nothing(
        index_elements=["workspace_id", "external_request_id"]
    )
    await s.execute(stmt, rows)
    await s.commit()
    return {"ok": True, "accepted": len(rows)}

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from llmmeter.config import Settings
from llmmeter.db import create_sessionmaker
from llmmeter.models import LLMRequest
from tests.fixtures.receiver import Mailbox


@pytest.fixture
def alert_settings(pg_settings: Settings, mailbox: Mailbox) -> Settings:
    return pg_settings.model_copy(
        update={
            "smtp_host": mailbox.host,
            "smtp_port": mailbox.port,
            "smtp_starttls": False,
            "alert_http_timeout_seconds": 1.0,
            "public_url": "https://llmmeter.example",
        }
    )


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


async def add_calls(
    db: AsyncSession,
    workspace_id: uuid.UUID,
    n: int,
    *,
    latency_ms: int,
    start: datetime,
    span: timedelta,
    tag: str = "checkout",
    cost_nano_usd: int = 1000,
    metadata: dict[str, str] | None = None,
) -> None:
    """`n` calls spread evenly over [start, start + span)."""
    rows = []
    for i in range(n):
        at = start + span * i / n
        rows.append(
            LLMRequest(
                workspace_id=workspace_id,
                external_request_id=f"seed-{uuid.uuid4().hex}",
                provider="openai",
                model="gpt-4o-mini",
                status="success",
                input_tokens=100,
                output_tokens=10,
                total_tokens=110,
                latency_ms=latency_ms,
                prompt_version="v1",
                endpoint_tag=tag,
                data_mode="real",
                environment="prod",
                request_metadata=metadata or {},
                created_at=at,
                received_at=at,
                updated_at=datetime.now(UTC),  # written now, whatever the call's time
                cost_nano_usd=cost_nano_usd,
                pricing_status="priced",
                fingerprint=hashlib.sha256(str(i).encode()).digest(),
            )
        )
    db.add_all(rows)
    await db.commit()

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.api_key.service import Grace, api_key_service
from llmmeter.auth.principal import WorkspaceScope
from llmmeter.kit.errors import NotFound
from llmmeter.models import ApiKey
from tests.conftest import FakeClock
from tests.fixtures.factories import KeyedWorkspace, create_keyed_workspace, record

URL = "/v1/ingest/llm-request"


async def test_key_format_and_storage(ws: KeyedWorkspace, db: AsyncSession) -> None:
    secret = ws.issued.secret
    assert re.fullmatch(r"lm_live_[A-Za-z0-9]{40}", secret)
    stored = await db.scalar(select(ApiKey).where(ApiKey.id == ws.issued.key.id))
    assert stored is not None
    assert stored.key_hash == hashlib.sha256(secret.encode()).digest()
    assert (stored.display_prefix, stored.last4) == (secret[:12], secret[-4:])
    # the full key is nowhere in the row
    assert all(secret not in str(getattr(stored, c.key)) for c in ApiKey.__table__.columns)


async def test_keys_are_unique(db: AsyncSession, ws: KeyedWorkspace) -> None:
    secrets = {(await api_key_service.create(db, ws.id, f"k{i}")).secret for i in range(50)}
    assert len(secrets) == 50


async def test_last_used_is_recorded(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    assert (await app_client.post(URL, json=record(), headers=ws.headers)).status_code == 200
    stored = await db.scalar(
        select(ApiKey)
        .where(ApiKey.id == ws.issued.key.id)
        .execution_options(populate_existing=True)
    )
    assert stored is not None
    assert stored.last_used_at is not None


@pytest.mark.parametrize("grace", list(Grace))
async def test_rotation_keeps_the_old_key_for_its_grace(
    app_client: httpx.AsyncClient, db: AsyncSession, clock: FakeClock, grace: Grace
) -> None:
    keyed = await create_keyed_workspace(db)
    start = datetime.now(UTC)
    clock.set(start)
    new = await api_key_service.rotate(
        db, WorkspaceScope(keyed.id), keyed.issued.key.id, grace, start
    )
    await db.commit()

    async def status(secret: str) -> int:
        response = await app_client.post(URL, json=record(), headers={"X-API-Key": secret})
        return response.status_code

    assert await status(new.secret) == 200
    assert await status(keyed.issued.secret) == (401 if grace is Grace.none else 200)
    clock.set(start + grace.delta + timedelta(seconds=1))
    assert await status(keyed.issued.secret) == 401
    assert await status(new.secret) == 200
    assert new.key.rotated_from_id == keyed.issued.key.id


async def test_revoke_is_immediate_even_within_grace(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    scope = WorkspaceScope(ws.id)
    now = datetime.now(UTC)
    await api_key_service.rotate(db, scope, ws.issued.key.id, Grace.one_week, now)
    await api_key_service.revoke(db, scope, ws.issued.key.id, now)
    await db.commit()
    response = await app_client.post(URL, json=record(), headers=ws.headers)
    assert response.status_code == 401


async def test_another_workspaces_key_is_not_found(db: AsyncSession, ws: KeyedWorkspace) -> None:
    other = await create_keyed_workspace(db)
    now = datetime.now(UTC)
    with pytest.raises(NotFound):
        await api_key_service.revoke(db, WorkspaceScope(other.id), ws.issued.key.id, now)
    with pytest.raises(NotFound):
        await api_key_service.rotate(
            db, WorkspaceScope(other.id), ws.issued.key.id, Grace.none, now
        )
    assert [k.id for k in await api_key_service.list(db, WorkspaceScope(other.id))] == [
        other.issued.key.id
    ]

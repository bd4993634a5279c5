"""The per-worker key cache: changes made in this process are seen at once, changes it cannot
see (another worker or replica) within `api_key_cache_seconds`, and one read serves a burst."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.api_key.repository import ApiKeyRepository
from llmmeter.api_key.service import api_key_service
from llmmeter.auth.principal import WorkspaceScope
from llmmeter.config import Settings
from tests.conftest import FakeClock, serve
from tests.fixtures.factories import KeyedWorkspace, record

URL = "/v1/ingest/llm-request"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    seen: list[bytes] = []
    find = ApiKeyRepository.find_for_ingest

    async def counting(self: ApiKeyRepository, session: AsyncSession, key_hash: bytes) -> Any:
        seen.append(key_hash)
        await asyncio.sleep(0.05)  # a slow database: the burst below arrives meanwhile
        return await find(self, session, key_hash)

    monkeypatch.setattr(ApiKeyRepository, "find_for_ingest", counting)
    return seen


def cached_for(settings: Settings, seconds: float) -> Settings:
    return settings.model_copy(update={"api_key_cache_seconds": seconds})


async def test_a_burst_on_a_cold_key_reads_it_once(
    settings: Settings, clock: FakeClock, ws: KeyedWorkspace, reads: list[bytes]
) -> None:
    async with serve(cached_for(settings, 60), clock) as client:
        responses = await asyncio.gather(
            *(client.post(URL, json=record(), headers=ws.headers) for _ in range(30))
        )
        assert [r.status_code for r in responses] == [200] * 30
        assert len(reads) == 1
        # The last-used stamp written on the way does not clear the cache.
        assert (await client.post(URL, json=record(), headers=ws.headers)).status_code == 200
        assert len(reads) == 1


async def test_a_burst_with_an_unknown_key_is_refused_once_read(
    settings: Settings, clock: FakeClock, reads: list[bytes]
) -> None:
    headers = {"X-API-Key": "lm_live_" + "x" * 40}
    async with serve(cached_for(settings, 60), clock) as client:
        responses = await asyncio.gather(
            *(client.post(URL, json=record(), headers=headers) for _ in range(10))
        )
    assert [r.status_code for r in responses] == [401] * 10
    assert len(reads) == 1


async def test_revoking_in_this_process_takes_effect_at_once(
    settings: Settings, clock: FakeClock, db: AsyncSession, ws: KeyedWorkspace
) -> None:
    async with serve(cached_for(settings, 60), clock) as client:
        assert (await client.post(URL, json=record(), headers=ws.headers)).status_code == 200
        await api_key_service.revoke(db, WorkspaceScope(ws.id), ws.issued.key.id, clock())
        await db.commit()
        refused = await client.post(URL, json=record(), headers=ws.headers)
    assert refused.status_code == 401
    assert refused.json()["reason"] == "invalid_api_key"


async def test_an_expiry_falls_exactly_when_due_even_when_cached(
    settings: Settings, clock: FakeClock, db: AsyncSession, ws: KeyedWorkspace
) -> None:
    await db.execute(
        text("UPDATE api_keys SET expires_at = :at WHERE id = :id"),
        {"at": clock() + timedelta(minutes=1), "id": ws.issued.key.id},
    )
    await db.commit()
    async with serve(cached_for(settings, 60), clock) as client:
        assert (await client.post(URL, json=record(), headers=ws.headers)).status_code == 200
        clock.set(clock() + timedelta(minutes=2))
        assert (await client.post(URL, json=record(), headers=ws.headers)).status_code == 401


@pytest.mark.parametrize(("seconds", "status"), [(60, 200), (0, 401)])
async def test_a_change_this_process_cannot_see_waits_for_the_cache_time(
    settings: Settings,
    clock: FakeClock,
    db: AsyncSession,
    ws: KeyedWorkspace,
    seconds: float,
    status: int,
) -> None:
    # A plain SQL statement stands for another worker or replica revoking the key: this
    # process is not told, so it keeps the key for up to `api_key_cache_seconds`.
    async with serve(cached_for(settings, seconds), clock) as client:
        assert (await client.post(URL, json=record(), headers=ws.headers)).status_code == 200
        await db.execute(
            text("UPDATE api_keys SET revoked_at = :at WHERE id = :id"),
            {"at": clock() - timedelta(seconds=1), "id": ws.issued.key.id},
        )
        await db.commit()
        assert (await client.post(URL, json=record(), headers=ws.headers)).status_code == status

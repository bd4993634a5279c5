"""An answered 200 is durable: kill -9 one of two workers in the middle of a load, then every
record that was answered 200 is in the database (the ones in flight may be lost, and are
safe to retry)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.config import Settings
from llmmeter.models import LLMRequest
from tests.fixtures.factories import KeyedWorkspace, record
from tests.fixtures.live import free_port


@pytest.fixture
def settings(pg_settings: Settings) -> Settings:
    return pg_settings  # two workers: the production store


def workers_of(pid: int) -> list[int]:
    """uvicorn's worker processes: the children of `pid` started by multiprocessing's spawn
    (not its resource tracker). Read from /proc, so no terminal width can cut a command line."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and "spawn_main" in cmdline:
            workers.append(int(entry.name))
    return sorted(workers)


@pytest.mark.slow
async def test_answered_records_survive_kill_9_of_a_worker(
    pg_settings: Settings, db: AsyncSession, ws: KeyedWorkspace, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LLMMETER_DATABASE_URL": str(pg_settings.database_url),
        "LLMMETER_REDIS_URL": str(pg_settings.redis_url),
        "LLMMETER_WORKERS": "2",
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "llmmeter",
        "serve",
        "--port",
        str(port),
        "--workers",
        "2",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    answered: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for _ in range(100):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            for _ in range(50):
                workers = workers_of(server.pid)
                if len(workers) == 2:
                    break
                await asyncio.sleep(0.1)
            assert len(workers) == 2, workers

            async def sender(n: int) -> None:
                for _ in range(n):
                    body = record(externalRequestId=f"crash-{uuid.uuid4().hex}")
                    try:
                        r = await client.post(
                            "/v1/ingest/llm-request", json=body, headers=ws.headers
                        )
                    except httpx.TransportError:
                        continue  # the killed worker's connections: not answered
                    if r.status_code == 200:
                        answered.append(body["externalRequestId"])

            load = [asyncio.create_task(sender(60)) for _ in range(16)]
            await asyncio.sleep(0.5)
            os.kill(workers[0], signal.SIGKILL)
            await asyncio.gather(*load)
    finally:
        server.terminate()
        await server.wait()
    assert len(answered) > 100
    stored = set(
        await db.scalars(
            select(LLMRequest.external_request_id).where(LLMRequest.workspace_id == ws.id)
        )
    )
    missing = [ext for ext in answered if ext not in stored]
    assert missing == []

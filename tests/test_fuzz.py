"""Schemathesis against a live server on the real PostgreSQL: no generated request, valid or
not, may get a 5xx or an answer that the OpenAPI document does not describe."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.config import PlanTier, Settings
from tests.fixtures.factories import create_keyed_workspace
from tests.test_cli import free_port

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)
BUDGET_SECONDS = 30


def _wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server exited"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("server did not come up")


@pytest.fixture
async def fuzz_key(db: AsyncSession) -> str:
    keyed = await create_keyed_workspace(db, plan=PlanTier.enterprise)
    return keyed.issued.secret


@pytest.mark.slow
def test_generated_requests_never_get_a_server_error(
    pg_settings: Settings, fuzz_key: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, "LLMMETER_DATABASE_URL": str(pg_settings.database_url)}
    env.pop("LLMMETER_REDIS_URL", None)
    server = [sys.executable, "-m", "llmmeter", "serve", "--port", str(port)]
    with subprocess.Popen(server, env=env, cwd=tmp_path, stderr=subprocess.DEVNULL) as proc:
        try:
            _wait_until_up(f"http://127.0.0.1:{port}/healthz", proc)
            st = Path(sys.executable).with_name("schemathesis")
            result = subprocess.run(
                [
                    str(st),
                    "run",
                    f"http://127.0.0.1:{port}/openapi.json",
                    "--header",
                    f"X-API-Key: {fuzz_key}",
                    "--checks",
                    CHECKS,
                    "--phases",
                    "examples,fuzzing",
                    "--max-time",
                    str(BUDGET_SECONDS),
                    "--workers",
                    "2",
                    "--no-color",
                ],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=BUDGET_SECONDS + 120,
            )
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    assert result.returncode == 0, result.stdout[-6000:]
    assert " passed" in result.stdout

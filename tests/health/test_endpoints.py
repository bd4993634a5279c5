from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from llmmeter.app import create_app
from llmmeter.config import Settings
from tests.fixtures.factories import record


async def test_healthz_reports_database_and_redis(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": "ok", "redis": "ok"}


async def test_database_down_is_503_with_retry_after(settings: Settings) -> None:
    down = settings.model_copy(update={"database_url": "postgresql://postgres@127.0.0.1:1/x"})
    async with LifespanManager(create_app(down)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            health = await client.get("/healthz")
            ingest = await client.post(
                "/v1/ingest/llm-request",
                json=record(),
                headers={"X-API-Key": "lm_live_" + "a" * 40},
            )
    for response in (health, ingest):
        assert response.status_code == 503
        assert response.json()["reason"] == "unavailable"
        assert int(response.headers["Retry-After"]) >= 1

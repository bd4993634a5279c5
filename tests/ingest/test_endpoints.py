from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.api_key.service import KeyMode
from llmmeter.app import create_app
from llmmeter.config import Settings
from tests.conftest import FakeClock
from tests.fixtures.factories import (
    KeyedWorkspace,
    count_rows,
    create_keyed_workspace,
    record,
    rows_of,
)

RESPONSE_FIELDS = {
    "ok",
    "requestId",
    "externalRequestId",
    "deduplicated",
    "costUsd",
    "pricingStatus",
    "warnings",
    "planTier",
    "planLimitRequests",
    "freeLimitRemainingRequests",
    "isPlanLimitReached",
    "telemetryPaused",
    "providerCallsContinue",
    "budgetWarning",
    "budgetExceeded",
    "reason",
}
URL = "/v1/ingest/llm-request"


async def test_canonical_payload_is_stored_and_priced(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    body = record()
    response = await app_client.post(URL, json=body, headers=ws.headers)

    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == RESPONSE_FIELDS
    # gpt-4o-mini: $0.15 / 1M input, $0.60 / 1M output → 120·0.15e-6 + 45·0.6e-6
    assert answer["costUsd"] == 0.000045
    assert answer == {
        **answer,
        "ok": True,
        "externalRequestId": body["externalRequestId"],
        "deduplicated": False,
        "pricingStatus": "priced",
        "warnings": [],
        "planTier": "starter",
        "planLimitRequests": 100_000,
        "freeLimitRemainingRequests": 99_999,
        "isPlanLimitReached": False,
        "telemetryPaused": False,
        "providerCallsContinue": True,
        "budgetWarning": False,
        "budgetExceeded": False,
        "reason": None,
    }
    [row] = await rows_of(db, ws.id)
    assert str(row.id) == answer["requestId"]
    assert row.api_key_id == ws.issued.key.id
    assert (row.external_request_id, row.provider, row.model) == (
        body["externalRequestId"],
        "openai",
        "gpt-4o-mini",
    )
    assert (row.prompt_version, row.endpoint_tag, row.status, row.error_code) == (
        "summarizer_v3",
        "checkout.ai_summary",
        "success",
        None,
    )
    assert (row.input_tokens, row.output_tokens, row.total_tokens, row.latency_ms) == (
        120,
        45,
        165,
        820,
    )
    assert (row.user_id, row.tenant_id, row.data_mode, row.environment) == (
        "u_9f2c",
        "acme",
        "real",
        "prod",
    )
    assert row.request_metadata == {"tenantId": "acme", "feature": "summary", "_user": "u_9f2c"}
    assert row.cost_nano_usd == 45_000
    assert row.pricing_status == "priced"
    assert row.price_snapshot is not None
    assert row.price_snapshot["inputPer1M"] == "0.15"
    assert row.price_snapshot["outputPer1M"] == "0.6"
    assert row.price_snapshot["source"] == "catalog"
    assert row.price_snapshot["catalog"].startswith("genai-prices ")
    assert row.attempts == 1
    assert abs(row.received_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert row.created_at == row.received_at


async def test_bearer_token_is_accepted(app_client: httpx.AsyncClient, ws: KeyedWorkspace) -> None:
    headers = {"Authorization": f"Bearer {ws.issued.secret}"}
    response = await app_client.post(URL, json=record(), headers=headers)
    assert response.status_code == 200


async def test_normalisation_of_case_and_aliases(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    body = record(
        provider="OpenAI",
        status="SUCCESS",
        environment="Production",
        dataMode="TEST",
        promptVersion=None,
        endpointTag="",
        userId=None,
        totalTokens=None,
        metadata={"n": 3, "f": 1.5, "b": True, "dropped": None},
    )
    response = await app_client.post(URL, json=body, headers=ws.headers)
    assert response.status_code == 200, response.text
    [row] = await rows_of(db, ws.id)
    assert (row.provider, row.status, row.environment, row.data_mode) == (
        "openai",
        "success",
        "prod",
        "test",
    )
    assert (row.prompt_version, row.endpoint_tag, row.user_id) == ("unknown", "unknown", None)
    assert row.total_tokens == 165
    assert row.request_metadata == {"n": "3", "f": "1.5", "b": "true"}


async def test_cached_and_reasoning_tokens_are_priced_at_their_rates(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace
) -> None:
    # gpt-4o-mini has a cache-read rate of $0.075 / 1M; no reasoning rate → output rate.
    body = record(inputTokens=1000, cachedInputTokens=400, outputTokens=100, reasoningTokens=60)
    answer = (await app_client.post(URL, json=body, headers=ws.headers)).json()
    expected = (600 * 0.15 + 400 * 0.075 + 100 * 0.6) / 1e6
    assert abs(answer["costUsd"] - expected) < 1e-12


async def test_unknown_model_is_stored_free_and_flagged(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    body = record(provider="acme-llm", model="house-model-7")
    answer = (await app_client.post(URL, json=body, headers=ws.headers)).json()
    assert answer["costUsd"] == 0
    assert answer["pricingStatus"] == "unknown"
    assert "unknown_model" in answer["warnings"]
    [row] = await rows_of(db, ws.id)
    assert (row.cost_nano_usd, row.pricing_status, row.price_snapshot) == (0, "unknown", None)


async def test_unknown_fields_are_ignored_and_named(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    body = record(temperature=0.2, sdkVersion="1.2.3")
    answer = (await app_client.post(URL, json=body, headers=ws.headers)).json()
    assert answer["warnings"] == ["unknown_field:sdkVersion", "unknown_field:temperature"]
    assert await count_rows(db, ws.id) == 1


async def test_demo_endpoint_forces_demo_mode(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    response = await app_client.post(
        "/v1/ingest/demo", json=record(dataMode="real"), headers=ws.headers
    )
    assert response.status_code == 200
    [row] = await rows_of(db, ws.id)
    assert row.data_mode == "demo"


async def test_test_key_defaults_records_to_test_mode(
    app_client: httpx.AsyncClient, db: AsyncSession
) -> None:
    keyed = await create_keyed_workspace(db, key={"mode": KeyMode.test})
    assert keyed.issued.secret.startswith("lm_test_")
    body = record()
    del body["dataMode"]
    assert (await app_client.post(URL, json=body, headers=keyed.headers)).status_code == 200
    [row] = await rows_of(db, keyed.id)
    assert row.data_mode == "test"


async def test_created_at_sets_event_time(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    at = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    body = record(createdAt=at.astimezone().isoformat())
    assert (await app_client.post(URL, json=body, headers=ws.headers)).status_code == 200
    [row] = await rows_of(db, ws.id)
    assert row.created_at == at
    assert row.received_at > at


async def test_metadata_precedence_workspace_over_key_over_request(
    app_client: httpx.AsyncClient, db: AsyncSession
) -> None:
    keyed = await create_keyed_workspace(
        db,
        metadata_defaults={"region": "eu", "team": "ws"},
        key={"metadata_defaults": {"team": "key", "service": "billing"}},
    )
    body = record(metadata={"team": "req", "service": "req", "region": "req", "own": "x"})
    assert (await app_client.post(URL, json=body, headers=keyed.headers)).status_code == 200
    [row] = await rows_of(db, keyed.id)
    assert row.request_metadata == {
        "team": "ws",
        "region": "eu",
        "service": "billing",
        "own": "x",
        "_user": "u_9f2c",
    }


async def test_operator_listed_headers_are_copied_into_metadata(
    settings: Settings, clock: FakeClock, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    custom = settings.model_copy(
        update={"headers_to_metadata": ["x-request-id", "x-caller-service"]}
    )
    headers = {**ws.headers, "X-Request-ID": "abc-123", "X-Caller-Service": "checkout"}
    async with LifespanManager(create_app(custom, clock=clock)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(URL, json=record(metadata={}), headers=headers)
    assert response.status_code == 200
    [row] = await rows_of(db, ws.id)
    assert row.request_metadata == {
        "x-request-id": "abc-123",
        "x-caller-service": "checkout",
        "_user": "u_9f2c",
    }


async def test_metadata_user_beats_user_id_and_tenant_from_metadata(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    body = record(userId="u_1", metadata={"_user": "u_2", "tenantId": "globex"})
    assert (await app_client.post(URL, json=body, headers=ws.headers)).status_code == 200
    [row] = await rows_of(db, ws.id)
    assert (row.user_id, row.request_metadata["_user"], row.tenant_id) == ("u_1", "u_2", "globex")

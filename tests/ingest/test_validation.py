"""Bad input: a clear 4xx with the right reason, never a 5xx, and nothing stored or changed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.api_key.service import Grace, api_key_service
from llmmeter.auth.principal import WorkspaceScope
from tests.fixtures.factories import KeyedWorkspace, count_rows, record, rows_of

URL = "/v1/ingest/llm-request"


def _without(*names: str) -> dict[str, Any]:
    body = record()
    for name in names:
        body.pop(name)
    return body


BAD_FIELDS: list[tuple[str, dict[str, Any], str]] = [
    ("missing externalRequestId", _without("externalRequestId"), "externalRequestId"),
    ("empty externalRequestId", record(externalRequestId=""), "externalRequestId"),
    ("externalRequestId with space", record(externalRequestId="req 1"), "externalRequestId"),
    ("externalRequestId with control", record(externalRequestId="req\x07"), "externalRequestId"),
    ("externalRequestId too long", record(externalRequestId="r" * 129), "externalRequestId"),
    ("externalRequestId a number", record(externalRequestId=12345), "externalRequestId"),
    ("missing provider", _without("provider"), "provider"),
    ("provider too long", record(provider="p" * 65), "provider"),
    ("missing model", _without("model"), "model"),
    ("model too long", record(model="m" * 129), "model"),
    ("missing status", _without("status"), "status"),
    ("status unknown", record(status="ok"), "status"),
    ("no token counts", _without("inputTokens", "outputTokens"), "inputTokens"),
    ("boolean tokens", record(inputTokens=True), "inputTokens"),
    ("fractional tokens", record(outputTokens=4.5), "outputTokens"),
    ("string tokens", record(inputTokens="120"), "inputTokens"),
    ("negative tokens", record(inputTokens=-1), "inputTokens"),
    ("tokens over 10^9", record(outputTokens=10**9 + 1), "outputTokens"),
    ("total over 2·10^9", record(totalTokens=2 * 10**9 + 1), "totalTokens"),
    ("cached over input", record(cachedInputTokens=121), "cachedInputTokens"),
    ("reasoning over output", record(reasoningTokens=46), "reasoningTokens"),
    ("negative latency", record(latencyMs=-5), "latencyMs"),
    ("latency over a day", record(latencyMs=86_400_001), "latencyMs"),
    ("errorCode too long", record(errorCode="e" * 129), "errorCode"),
    ("promptVersion too long", record(promptVersion="v" * 129), "promptVersion"),
    ("endpointTag a list", record(endpointTag=["a"]), "endpointTag"),
    ("userId too long", record(userId="u" * 129), "userId"),
    ("dataMode unknown", record(dataMode="prodlike"), "dataMode"),
    ("environment unknown", record(environment="qa"), "environment"),
    ("createdAt without offset", record(createdAt="2026-01-01T00:00:00"), "createdAt"),
    ("createdAt not a date", record(createdAt="yesterday"), "createdAt"),
    ("NUL in model", record(model="gpt\x00"), "model"),
    ("NUL in endpointTag", record(endpointTag="a\x00b"), "endpointTag"),
    ("NUL in metadata value", record(metadata={"a": "\x00"}), "metadata"),
    ("NUL in metadata key", record(metadata={"a\x00": "v"}), "metadata"),
    ("metadata not an object", record(metadata=["a"]), "metadata"),
    ("metadata nested object", record(metadata={"a": {"b": 1}}), "metadata"),
    ("metadata array value", record(metadata={"a": [1, 2]}), "metadata"),
    ("metadata value too long", record(metadata={"a": "x" * 129}), "metadata"),
    ("metadata key too long", record(metadata={"k" * 65: "x"}), "metadata"),
    ("metadata too many keys", record(metadata={f"k{i}": i for i in range(65)}), "metadata"),
]


@pytest.mark.parametrize(("case", "body", "field"), BAD_FIELDS, ids=[c[0] for c in BAD_FIELDS])
async def test_invalid_field_is_422_and_stores_nothing(
    app_client: httpx.AsyncClient,
    ws: KeyedWorkspace,
    db: AsyncSession,
    case: str,
    body: dict[str, Any],
    field: str,
) -> None:
    response = await app_client.post(URL, json=body, headers=ws.headers)

    assert response.status_code == 422, case
    answer = response.json()
    assert answer["ok"] is False
    assert answer["reason"] == "validation_error"
    assert field in [e["loc"][0] for e in answer["errors"]], answer["errors"]
    assert all(e["msg"] for e in answer["errors"])
    assert await count_rows(db, ws.id) == 0


async def test_every_bad_field_is_listed_at_once(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace
) -> None:
    body = record(inputTokens=True, outputTokens=1.5, status="maybe", metadata={"a": {}, "b": []})
    del body["provider"]
    answer = (await app_client.post(URL, json=body, headers=ws.headers)).json()
    locs = sorted(tuple(e["loc"]) for e in answer["errors"])
    assert locs == [
        ("inputTokens",),
        ("metadata", "a"),
        ("metadata", "b"),
        ("outputTokens",),
        ("provider",),
        ("status",),
    ]


@pytest.mark.parametrize(
    ("case", "age"),
    [("31 days old", timedelta(days=-31)), ("10 minutes ahead", timedelta(minutes=10))],
)
async def test_created_at_out_of_range(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession, case: str, age: timedelta
) -> None:
    body = record(createdAt=(datetime.now(UTC) + age).isoformat())
    response = await app_client.post(URL, json=body, headers=ws.headers)
    assert response.status_code == 422, case
    assert response.json()["reason"] == "timestamp_out_of_range"
    assert await count_rows(db, ws.id) == 0


RAW_BODIES: list[tuple[str, bytes, dict[str, str], int, str]] = [
    ("not JSON", b"{not json", {}, 400, "validation_error"),
    ("empty body", b"", {}, 400, "validation_error"),
    ("JSON array", b"[1, 2]", {}, 422, "validation_error"),
    ("JSON string", b'"hello"', {}, 422, "validation_error"),
    (
        "form content type",
        b"a=1",
        {"Content-Type": "application/x-www-form-urlencoded"},
        415,
        "unsupported_media_type",
    ),
    (
        "text content type",
        orjson.dumps(record()),
        {"Content-Type": "text/plain"},
        415,
        "unsupported_media_type",
    ),
    ("oversize body", b'{"x": "' + b"a" * 70_000 + b'"}', {}, 413, "payload_too_large"),
]


@pytest.mark.parametrize(
    ("case", "raw", "headers", "status", "reason"), RAW_BODIES, ids=[c[0] for c in RAW_BODIES]
)
async def test_bad_bodies(
    app_client: httpx.AsyncClient,
    ws: KeyedWorkspace,
    db: AsyncSession,
    case: str,
    raw: bytes,
    headers: dict[str, str],
    status: int,
    reason: str,
) -> None:
    all_headers = {"Content-Type": "application/json", **ws.headers, **headers}
    response = await app_client.post(URL, content=raw, headers=all_headers)
    assert response.status_code == status, case
    assert response.json()["reason"] == reason
    assert await count_rows(db, ws.id) == 0


async def test_oversize_chunked_body_is_413(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b" " * 4096

    response = await app_client.post(URL, content=chunks(), headers=ws.headers)
    assert response.status_code == 413
    assert response.json()["reason"] == "payload_too_large"


@pytest.mark.parametrize(
    ("case", "headers"),
    [
        ("missing key", {}),
        ("malformed key", {"X-API-Key": "sk-not-ours"}),
        ("unknown key", {"X-API-Key": "lm_live_" + "A" * 40}),
        ("wrong scheme", {"Authorization": "Basic " + "lm_live_" + "A" * 40}),
    ],
)
async def test_bad_keys_are_401(
    app_client: httpx.AsyncClient,
    ws: KeyedWorkspace,
    db: AsyncSession,
    case: str,
    headers: dict[str, str],
) -> None:
    response = await app_client.post(URL, json=record(), headers=headers)
    assert response.status_code == 401, case
    assert response.json() == {
        "ok": False,
        "reason": "invalid_api_key",
        "message": response.json()["message"],
    }
    assert await count_rows(db, ws.id) == 0


async def test_revoked_and_expired_keys_are_401(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    scope = WorkspaceScope(ws.id)
    rotated = await api_key_service.rotate(
        db, scope, ws.issued.key.id, Grace.none, datetime.now(UTC)
    )
    await api_key_service.revoke(db, scope, rotated.key.id, datetime.now(UTC))
    await db.commit()
    for secret in (ws.issued.secret, rotated.secret):
        response = await app_client.post(URL, json=record(), headers={"X-API-Key": secret})
        assert response.status_code == 401
        assert response.json()["reason"] == "invalid_api_key"
    assert await count_rows(db, ws.id) == 0


async def test_rejected_record_leaves_the_stored_row_untouched(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    body = record(status="error", errorCode="timeout")
    await app_client.post(URL, json=body, headers=ws.headers)
    [before] = await rows_of(db, ws.id)
    bad = {**body, "status": "success", "inputTokens": -1}
    assert (await app_client.post(URL, json=bad, headers=ws.headers)).status_code == 422
    [after] = await rows_of(db, ws.id)
    assert (after.status, after.attempts, after.updated_at) == ("error", 1, before.updated_at)

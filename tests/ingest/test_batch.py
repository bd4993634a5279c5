from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.factories import KeyedWorkspace, count_rows, record

URL = "/v1/ingest/llm-requests"


async def test_batch_of_500_with_three_bad_items(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    items = [record() for _ in range(500)]
    items[7]["inputTokens"] = -3
    items[250]["status"] = "maybe"
    items[499] = {"provider": "openai"}
    response = await app_client.post(URL, json={"requests": items}, headers=ws.headers)

    assert response.status_code == 200
    answer = response.json()
    assert (answer["accepted"], answer["deduplicated"], answer["rejected"]) == (497, 0, 3)
    rejected = [r for r in answer["results"] if not r["ok"]]
    assert [r["index"] for r in rejected] == [7, 250, 499]
    assert all(r["reason"] == "validation_error" and r["errors"] for r in rejected)
    assert rejected[0]["errors"][0]["loc"] == ["requests", 7, "inputTokens"]
    assert [r["index"] for r in answer["results"]] == list(range(500))
    assert answer["freeLimitRemainingRequests"] == 100_000 - 497
    assert await count_rows(db, ws.id) == 497


async def test_batch_dedupes_within_itself_and_against_stored_rows(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace, db: AsyncSession
) -> None:
    stored = record()
    await app_client.post("/v1/ingest/llm-request", json=stored, headers=ws.headers)
    fresh = record()
    failed = record(status="error", errorCode="timeout")
    retried = {**failed, "status": "success", "errorCode": None}
    items = [stored, fresh, fresh, failed, retried]
    answer = (await app_client.post(URL, json={"requests": items}, headers=ws.headers)).json()

    flags = [(r["deduplicated"], r.get("updated")) for r in answer["results"]]
    assert flags == [(True, False), (False, None), (True, False), (False, None), (True, True)]
    assert answer["results"][1]["requestId"] == answer["results"][2]["requestId"]
    assert (answer["accepted"], answer["deduplicated"], answer["rejected"]) == (5, 3, 0)
    assert await count_rows(db, ws.id) == 3


async def test_batch_envelope_errors(app_client: httpx.AsyncClient, ws: KeyedWorkspace) -> None:
    for body in ({}, {"requests": {}}, {"requests": []}, {"requests": [record()] * 501}):
        response = await app_client.post(URL, json=body, headers=ws.headers)
        assert response.status_code == 422
        assert response.json()["reason"] == "validation_error"


async def test_batch_over_one_mebibyte_is_413(
    app_client: httpx.AsyncClient, ws: KeyedWorkspace
) -> None:
    items = [record(metadata={f"k{i}": "v" * 120 for i in range(60)}) for _ in range(200)]
    response = await app_client.post(URL, json={"requests": items}, headers=ws.headers)
    assert response.status_code == 413
    assert response.json()["reason"] == "payload_too_large"

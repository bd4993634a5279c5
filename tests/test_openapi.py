from __future__ import annotations

import httpx

REASONS = {
    "validation_error",
    "timestamp_out_of_range",
    "invalid_api_key",
    "payload_too_large",
    "unavailable",
    "rate_limited",
    "plan_limit_reached",
    "budget_exceeded",
}


async def test_openapi_documents_bodies_statuses_and_reasons(app_client: httpx.AsyncClient) -> None:
    spec = (await app_client.get("/openapi.json")).json()
    single = spec["paths"]["/v1/ingest/llm-request"]["post"]
    assert {"200", "400", "401", "402", "413", "415", "422", "429", "503"} <= set(
        single["responses"]
    )
    body_ref = single["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][body_ref.rsplit("/", 1)[1]]
    for field in ("externalRequestId", "inputTokens", "metadata", "createdAt", "environment"):
        assert field in schema["properties"], field
    assert schema["properties"]["inputTokens"]["anyOf"][0]["maximum"] == 10**9
    assert set(schema["required"]) == {"externalRequestId", "provider", "model", "status"}
    text = str(spec)
    assert all(reason in text for reason in REASONS)
    assert "/v1/ingest/llm-requests" in spec["paths"]
    assert "/v1/ingest/demo" in spec["paths"]
    assert "/v1/public/pricing-models" in spec["paths"]
    assert "/v1/diagnostics/workspace-status" in spec["paths"]
    docs = await app_client.get("/docs")
    assert docs.status_code == 200


async def test_unknown_route_is_json_404(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/v1/nope")
    assert response.status_code == 404
    assert response.json()["reason"] == "not_found"

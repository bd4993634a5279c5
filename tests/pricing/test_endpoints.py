from __future__ import annotations

import httpx

URL = "/v1/public/pricing-models"


async def test_lists_models_without_auth(app_client: httpx.AsyncClient) -> None:
    answer = (await app_client.get(URL)).json()
    assert answer["total"] > 100
    assert len(answer["data"]) == 100
    assert set(answer["data"][0]) == {
        "provider",
        "model",
        "name",
        "inputPricePer1M",
        "outputPricePer1M",
        "effectiveFrom",
    }


async def test_filters_and_pages(app_client: httpx.AsyncClient) -> None:
    answer = (await app_client.get(URL, params={"provider": "openai", "q": "4o-mini"})).json()
    assert answer["total"] >= 1
    assert all(m["provider"] == "openai" and "4o-mini" in m["model"] for m in answer["data"])
    everything = (await app_client.get(URL, params={"provider": "anthropic", "limit": 500})).json()
    page = (
        await app_client.get(URL, params={"provider": "anthropic", "limit": 2, "offset": 2})
    ).json()
    assert page["data"] == everything["data"][2:4]
    assert page["total"] == everything["total"]


async def test_bad_paging_is_422(app_client: httpx.AsyncClient) -> None:
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "x"}):
        response = await app_client.get(URL, params=params)
        assert response.status_code == 422
        assert response.json()["reason"] == "validation_error"

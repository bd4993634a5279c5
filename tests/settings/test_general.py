"""Budgets, metadata defaults, price overrides and data hygiene from the settings pages."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.member.roles import Role
from tests.fixtures.factories import count_rows, record
from tests.fixtures.web import Browser, add_member

Owner = tuple[Browser, uuid.UUID]


async def test_a_budget_set_in_the_page_drives_ingest_answers(owner: Owner) -> None:
    browser, ws = owner
    key = await browser.create_key(ws)
    r = await browser.post(
        f"/app/w/{ws}/settings/budget",
        {"daily": "0.0001", "monthly": "", "warning_ratio": "50%", "policy": "hard_stop"},
    )
    assert r.status_code == 303
    page = await browser.get(f"/app/w/{ws}/settings")
    assert 'value="0.0001"' in page.text
    assert "selected>hard stop" in page.text
    headers = {"X-API-Key": key}
    first = await browser.client.post("/v1/ingest/llm-request", json=record(), headers=headers)
    assert first.json()["budgetWarning"] is False
    for _ in range(2):
        await browser.client.post("/v1/ingest/llm-request", json=record(), headers=headers)
    refused = await browser.client.post("/v1/ingest/llm-request", json=record(), headers=headers)
    assert (refused.status_code, refused.json()["reason"]) == (402, "budget_exceeded")


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"daily": "lots"}, "enter an amount"),
        ({"daily": "-1"}, "non-negative"),
        ({"warning_ratio": "0"}, "above 0"),
        ({"policy": "panic"}, "observe or hard_stop"),
    ],
)
async def test_bad_budget_forms_change_nothing(
    owner: Owner, form: dict[str, str], reason: str
) -> None:
    browser, ws = owner
    await browser.post(f"/app/w/{ws}/settings/budget", {"daily": "7"})
    r = await browser.post(f"/app/w/{ws}/settings/budget", form)
    assert r.status_code == 422
    assert reason in r.text
    assert 'value="7"' in (await browser.get(f"/app/w/{ws}/settings")).text


async def test_workspace_metadata_defaults_reach_rows(owner: Owner) -> None:
    browser, ws = owner
    key = await browser.create_key(ws)
    r = await browser.post(f"/app/w/{ws}/settings/metadata", {"metadata": "region=eu\n# note"})
    assert r.status_code == 303
    sent = await browser.client.post(
        "/v1/ingest/llm-request", json=record(metadata={}), headers={"X-API-Key": key}
    )
    detail = await browser.get(f"/app/w/{ws}/requests/{sent.json()['requestId']}")
    assert ">region<" in detail.text
    assert ">eu<" in detail.text


async def test_a_price_override_prices_later_calls(owner: Owner) -> None:
    browser, ws = owner
    key = await browser.create_key(ws)
    r = await browser.post(
        f"/app/w/{ws}/settings/pricing",
        {"provider": "acme", "model": "house-model", "input_per_1m": "1", "output_per_1m": "2"},
    )
    assert r.status_code == 303
    body = record(provider="acme", model="house-model", inputTokens=1_000_000, outputTokens=0)
    body["totalTokens"] = 1_000_000
    sent = await browser.client.post(
        "/v1/ingest/llm-request", json=body, headers={"X-API-Key": key}
    )
    assert sent.json()["costUsd"] == pytest.approx(1.0)
    assert "house-model" in (await browser.get(f"/app/w/{ws}/settings/pricing")).text


async def test_bad_price_override_is_explained(owner: Owner) -> None:
    browser, ws = owner
    r = await browser.post(
        f"/app/w/{ws}/settings/pricing",
        {"provider": "x", "model": "y", "input_per_1m": "free", "output_per_1m": "1"},
    )
    assert r.status_code == 422
    assert "enter an amount" in r.text
    assert 'value="free"' in r.text  # the form keeps what was typed


async def test_data_hygiene_deletes_test_and_demo_rows_only(owner: Owner, db: AsyncSession) -> None:
    browser, ws = owner
    mine = await browser.create_key(ws)
    member_email = await add_member(db, ws, Role.member)
    async with browser.sibling().client as client:
        member = Browser(client)
        await member.sign_in(member_email)
        theirs = await member.create_key(ws)
        for key in (mine, theirs):
            for mode in ("real", "test", "demo"):
                await client.post(
                    "/v1/ingest/llm-request", json=record(dataMode=mode), headers={"X-API-Key": key}
                )
        assert await count_rows(db, ws) == 6
        # A member deletes their own test data only, and may not wipe the workspace's.
        assert (
            await member.post(f"/app/w/{ws}/settings/data", {"scope": "mine"})
        ).status_code == 303
        assert await count_rows(db, ws) == 4
        denied = await member.post(f"/app/w/{ws}/settings/data", {"scope": "workspace"})
        assert denied.status_code == 422
    r = await browser.post(f"/app/w/{ws}/settings/data", {"scope": "workspace"})
    assert r.headers["location"].endswith("deleted=2")
    assert await count_rows(db, ws) == 2  # the two real rows

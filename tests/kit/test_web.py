"""CSRF protection on every state-changing page route."""

from __future__ import annotations

import uuid

import pytest

from tests.fixtures.web import PASSWORD, Browser, new_email


async def test_a_form_post_without_the_token_is_refused(owner: tuple[Browser, uuid.UUID]) -> None:
    browser, workspace_id = owner
    r = await browser.post(f"/app/w/{workspace_id}/settings/keys", {"name": "x"}, csrf=False)
    assert r.status_code == 403
    assert "reload the page" in r.text
    keys = await browser.get(f"/app/w/{workspace_id}/settings/keys")
    assert ">x<" not in keys.text  # nothing was created


async def test_a_wrong_token_is_refused(owner: tuple[Browser, uuid.UUID]) -> None:
    browser, workspace_id = owner
    r = await browser.post(
        f"/app/w/{workspace_id}/settings/budget", {"daily": "5", "csrf_token": "forged" * 5}
    )
    assert r.status_code == 403


async def test_htmx_posts_carry_the_token_in_a_header(owner: tuple[Browser, uuid.UUID]) -> None:
    browser, workspace_id = owner
    url = f"/app/w/{workspace_id}/settings/keys"
    headers = {"HX-Request": "true"}
    refused = await browser.client.post(url, data={"name": "h"}, headers=headers)
    assert refused.status_code == 403
    headers["X-CSRF-Token"] = browser.csrf
    ok = await browser.client.post(url, data={"name": "h"}, headers=headers)
    assert ok.status_code == 200
    assert "it will not be shown again" in ok.text


async def test_a_post_from_another_site_is_refused(owner: tuple[Browser, uuid.UUID]) -> None:
    browser, workspace_id = owner
    r = await browser.post(
        f"/app/w/{workspace_id}/settings/keys",
        {"name": "x"},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    same = await browser.post(
        f"/app/w/{workspace_id}/settings/keys", {"name": "y"}, headers={"Origin": "http://test"}
    )
    assert same.status_code == 200


@pytest.mark.parametrize("path", ["/signin", "/signup", "/signout"])
async def test_sign_in_forms_need_the_token_too(browser: Browser, path: str) -> None:
    await browser.get("/signin")
    data = {"email": new_email(), "password": PASSWORD}
    assert (await browser.post(path, data, csrf=False)).status_code == 403


async def test_the_token_is_in_every_form_and_the_htmx_meta_tag(
    owner: tuple[Browser, uuid.UUID],
) -> None:
    browser, workspace_id = owner
    page = await browser.get(f"/app/w/{workspace_id}/settings")
    assert f'<meta name="csrf-token" content="{browser.csrf}">' in page.text
    forms = page.text.count('method="post"')
    assert forms >= 3
    assert page.text.count(f'name="csrf_token" value="{browser.csrf}"') >= forms

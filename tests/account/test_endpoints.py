"""Sign-up, sign-in, sign-out, first run, sessions and their cookies, throttling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from llmmeter import migrate
from llmmeter.config import Settings
from tests.conftest import FakeClock, serve
from tests.fixtures.web import PASSWORD, Browser, new_email


@pytest.fixture
async def fresh(tmp_path: Path) -> AsyncIterator[Browser]:
    """An installation with no user yet (its own embedded database)."""
    settings = Settings(
        database_url=None, redis_url=None, sqlite_path=tmp_path / "fresh.db", _env_file=None
    )
    migrate.upgrade(settings)
    async with serve(settings) as client:
        yield Browser(client)


async def test_first_run_sends_to_setup_and_lands_on_the_dashboard(fresh: Browser) -> None:
    r = await fresh.get("/")
    assert (r.status_code, r.headers["location"]) == (303, "/setup")
    await fresh.get("/setup")
    r = await fresh.post(
        "/setup", {"email": "Ada@Example.com", "password": PASSWORD, "workspace_name": "Lab"}
    )
    assert r.status_code == 303
    dashboard = await fresh.get(r.headers["location"])
    assert dashboard.status_code == 200
    assert "Lab" in dashboard.text
    # Set-up happens once; afterwards the page sends people to sign in.
    again = await fresh.get("/setup")
    assert (again.status_code, again.headers["location"]) == (303, "/signin")
    refused = await fresh.post("/setup", {"email": new_email(), "password": PASSWORD})
    assert refused.status_code == 409


async def test_sign_up_sets_a_strict_session_cookie(browser: Browser) -> None:
    await browser.get("/signup")
    r = await browser.post("/signup", {"email": new_email(), "password": PASSWORD})
    assert r.status_code == 303
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("lm_session="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "secure" not in flags  # local development runs over plain HTTP
    assert r.headers["location"] == "/app/workspaces/new"


async def test_session_cookie_is_secure_outside_development(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production"})
    # Secure cookies travel over HTTPS only: the client must speak it to get them back.
    async with serve(production, base_url="https://test") as client:
        browser = Browser(client)
        page = await browser.get("/signup")
        csrf = next(h for h in page.headers.get_list("set-cookie") if h.startswith("lm_csrf="))
        assert {"secure", "httponly", "samesite=lax"} <= {
            p.strip().lower() for p in csrf.split(";")
        }
        r = await browser.post("/signup", {"email": new_email(), "password": PASSWORD})
        cookies = r.headers.get_list("set-cookie")
        session = next(h for h in cookies if h.startswith("lm_session="))
        assert {"secure", "httponly", "samesite=lax"} <= {
            p.strip().lower() for p in session.split(";")
        }


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 8"),
        ("password", "too common"),
        ("x" * 129, "at most 128"),
    ],
)
async def test_weak_passwords_are_refused_with_a_reason(
    browser: Browser, password: str, reason: str
) -> None:
    await browser.get("/signup")
    r = await browser.post("/signup", {"email": new_email(), "password": password})
    assert r.status_code == 422
    assert reason in r.text
    assert "lm_session" not in browser.client.cookies


async def test_long_passphrases_without_symbols_are_fine(browser: Browser) -> None:
    await browser.sign_up(password="a" * 20 + " lowercase words only " + "b" * 20)


async def test_duplicate_email_is_a_conflict_case_insensitively(browser: Browser) -> None:
    email = await browser.sign_up()
    browser.client.cookies.clear()
    await browser.get("/signup")
    r = await browser.post("/signup", {"email": email.upper(), "password": PASSWORD})
    assert r.status_code == 409
    assert "already exists" in r.text


async def test_sign_in_wrong_password_then_right(browser: Browser) -> None:
    email = await browser.sign_up()
    browser.client.cookies.clear()
    bad = await browser.sign_in(email, "not the password")
    assert bad.status_code == 401
    assert "Wrong email or password" in bad.text
    good = await browser.sign_in(email)
    assert good.status_code == 303


async def test_failed_sign_ins_are_throttled_per_account(browser: Browser) -> None:
    email = await browser.sign_up()
    browser.client.cookies.clear()
    for _ in range(5):
        assert (await browser.sign_in(email, "wrong password!")).status_code == 401
    throttled = await browser.sign_in(email)  # even the right password waits now
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
    # Another account from the same address is not locked by this one.
    other = await Browser(browser.client).sign_up()
    browser.client.cookies.clear()
    assert (await browser.sign_in(other)).status_code == 303


async def test_failed_sign_ins_are_throttled_per_address(settings: Settings) -> None:
    # 20 failures from one address, each against a different account, lock that address
    # (its own address, so that the other tests' sign-ins are not throttled).
    async with serve(settings, address="192.0.2.77") as client:
        browser = Browser(client)
        for _ in range(20):
            assert (await browser.sign_in(new_email(), "wrong password!")).status_code == 401
        email = await Browser(client).sign_up()
        client.cookies.clear()
        throttled = await browser.sign_in(email)
        assert throttled.status_code == 429
        assert "Too many failed sign-ins" in throttled.text
    async with serve(settings) as elsewhere:  # another address is not locked
        assert (await Browser(elsewhere).sign_in(email)).status_code == 303


async def test_unknown_account_fails_like_a_wrong_password(browser: Browser) -> None:
    r = await browser.sign_in(new_email(), PASSWORD)
    assert r.status_code == 401
    assert "Wrong email or password" in r.text


async def test_sign_out_revokes_the_session_server_side(browser: Browser) -> None:
    await browser.sign_up()
    token = browser.client.cookies["lm_session"]
    assert (await browser.get("/app/workspaces/new")).status_code == 200
    r = await browser.post("/signout")
    assert r.status_code == 303
    # Replaying the old cookie does not work: the session row is revoked.
    browser.client.cookies.set("lm_session", token)
    r = await browser.get("/app/workspaces/new")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/signin?next=")


async def test_password_change_signs_out_other_sessions(
    settings: Settings, browser: Browser
) -> None:
    email = await browser.sign_up()
    async with serve(settings, FakeClock()) as other_client:
        other = Browser(other_client)
        assert (await other.sign_in(email)).status_code == 303
        r = await browser.post(
            "/app/account/password", {"current": PASSWORD, "new": "another fine passphrase"}
        )
        assert r.status_code == 200
        assert "Password changed" in r.text
        assert (await other.get("/app/account")).status_code == 303  # signed out
        assert (await browser.get("/app/account")).status_code == 200  # this one stays
        browser.client.cookies.clear()
        assert (await browser.sign_in(email)).status_code == 401
        assert (await browser.sign_in(email, "another fine passphrase")).status_code == 303


async def test_wrong_current_password_changes_nothing(browser: Browser) -> None:
    email = await browser.sign_up()
    r = await browser.post("/app/account/password", {"current": "nope nope", "new": "x" * 12})
    assert r.status_code == 422
    browser.client.cookies.clear()
    assert (await browser.sign_in(email)).status_code == 303


async def test_pages_ask_for_sign_in_and_come_back(browser: Browser) -> None:
    r = await browser.get("/app/account")
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?next=%2Fapp%2Faccount"
    email = await Browser(browser.client).sign_up()
    browser.client.cookies.clear()
    await browser.get("/signin")
    r = await browser.post(
        "/signin", {"email": email, "password": PASSWORD, "next": "/app/account"}
    )
    assert r.headers["location"] == "/app/account"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil"])
async def test_next_never_leaves_the_site(browser: Browser, target: str) -> None:
    email = await browser.sign_up()
    browser.client.cookies.clear()
    await browser.get("/signin")
    r = await browser.post("/signin", {"email": email, "password": PASSWORD, "next": target})
    assert r.status_code == 303
    assert r.headers["location"].startswith("/app")


async def test_sign_up_can_be_closed(settings: Settings) -> None:
    async with serve(settings.model_copy(update={"allow_signup": False})) as client:
        browser = Browser(client)
        await browser.get("/signup")
        r = await browser.post("/signup", {"email": new_email(), "password": PASSWORD})
        assert r.status_code == 403
        assert "invitation" in r.text


async def test_a_user_switches_between_workspaces(owner: tuple[Browser, object]) -> None:
    browser, first = owner
    second = await browser.create_workspace("Second")
    page = await browser.get(f"/app/w/{second}/")
    assert f'value="/app/w/{first}/"' in page.text
    assert f'value="/app/w/{second}/" selected' in page.text
    assert (await browser.get(f"/app/w/{first}/")).status_code == 200


async def test_unknown_workspace_and_bad_ids_are_404_pages(browser: Browser) -> None:
    await browser.sign_up()
    r = await browser.get("/app/w/00000000-0000-0000-0000-000000000000/")
    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"]
    r = await browser.get("/app/w/not-a-uuid/")
    assert r.status_code == 422


async def test_html_pages_never_answer_json_errors(app_client: httpx.AsyncClient) -> None:
    r = await app_client.get("/no/such/page")
    assert r.status_code == 404
    assert "text/html" in r.headers["content-type"]
    api = await app_client.get("/v1/no/such/route")
    assert api.headers["content-type"].startswith("application/json")

"""Server-rendered pages: the Jinja2 environment, CSRF tokens, cookies and redirects.

CSRF: a random token lives in an HttpOnly `SameSite=Lax` cookie and is repeated in every form
(hidden field) and htmx request (header, from a meta tag); a state-changing request whose
token is missing or differs is refused, as is one whose Origin names another site."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from llmmeter.kit.errors import AppError

CSRF_COOKIE = "lm_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_COOKIE = "lm_session"
_PACKAGE = Path(__file__).resolve().parents[1]
_SOURCE_TREE = _PACKAGE.parents[1]


class CsrfFailed(AppError):
    status_code = 403
    reason = "csrf_failed"
    message = "This form has expired or did not come from this site; reload the page and retry."


class Forbidden(AppError):
    status_code = 403
    reason = "forbidden"
    message = "Your role in this workspace does not allow this."


class SignInRequired(AppError):
    status_code = 401
    reason = "sign_in_required"
    message = "Sign in to continue."


def asset_dir(name: str) -> Path:
    """`templates` or `static`: beside `src/` in a checkout, inside the package when installed."""
    in_tree = _SOURCE_TREE / name
    return in_tree if in_tree.is_dir() else _PACKAGE / f"_{name}"


def _usd(value: float | None, digits: int | None = None) -> str:
    if value is None:
        return "—"
    if digits is None:
        digits = 2 if abs(value) >= 1 else 4 if abs(value) >= 0.01 else 6
    return f"${value:,.{digits}f}"


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.2f} s" if value >= 10_000 else f"{value:,.0f} ms"


def _decimal(value: Decimal | None) -> str:
    """A stored amount as a person would type it: 0.000100000 → 0.0001."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _change(current: float | None, previous: float | None) -> str:
    if current is None or previous is None:
        return "new" if current and not previous else "—"
    if previous == 0:
        return "new" if current else "—"
    return f"{(current - previous) / previous * 100:+.0f}%"


def build_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(asset_dir("templates")))
    env = templates.env
    env.filters.update(usd=_usd, num=_num, pct=_pct, ms=_ms, when=_when, decimal=_decimal)
    env.globals.update(change=_change, app_version=version("llmmeter"))
    env.trim_blocks = True
    env.lstrip_blocks = True
    return templates


def csrf_token(request: Request) -> str:
    token: str | None = getattr(request.state, "csrf_token", None)
    if token is None:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        token = cookie if 20 <= len(cookie) <= 100 else secrets.token_urlsafe(32)
        request.state.csrf_token = token
    return token


def secure_cookies(request: Request) -> bool:
    return not request.state.app.settings.development


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )


def keep_csrf_cookie(request: Request, response: Response) -> None:
    token = csrf_token(request)
    if request.cookies.get(CSRF_COOKIE) != token:
        set_cookie(request, response, CSRF_COOKIE, token, max_age=60 * 60 * 24 * 30)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", request.url.netloc)


async def verify_csrf(request: Request) -> None:
    """Dependency of every state-changing page route."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise CsrfFailed()
    if not _same_origin(request):
        raise CsrfFailed("This request came from another site.")


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    templates: Jinja2Templates = request.state.app.templates
    ctx = {"csrf_token": csrf_token(request), **(context or {})}
    response = templates.TemplateResponse(
        request, name, ctx, status_code=status_code, headers=headers
    )
    keep_csrf_cookie(request, response)
    return response


def redirect(request: Request, url: str) -> Response:
    """303 See Other after a form post; htmx follows `HX-Redirect` instead."""
    if request.headers.get("hx-request"):
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    keep_csrf_cookie(request, response)
    return response


def safe_next(target: str | None, default: str = "/app") -> str:
    """Only same-site paths: an open redirect after sign-in is a phishing tool."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target

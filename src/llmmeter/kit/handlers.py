"""Every failure leaves as JSON `{ok: false, reason, message}`; storage trouble as 503."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from llmmeter.kit import web
from llmmeter.kit.errors import AppError, FieldError, NotFound, Unavailable, ValidationFailed
from llmmeter.kit.responses import ORJSONResponse
from llmmeter.kit.web import SignInRequired

log = logging.getLogger(__name__)

_HTTP_REASONS = {404: "not_found", 405: "method_not_allowed"}


_API_PREFIXES = ("/v1/", "/healthz", "/docs", "/openapi", "/redoc", "/static/")


def is_page(request: Request) -> bool:
    """A route a person's browser shows (the web app), as opposed to the JSON API."""
    return not request.url.path.startswith(_API_PREFIXES)


def _render(exc: AppError, request: Request | None = None) -> ORJSONResponse:
    headers = dict(getattr(request.state, "response_headers", {})) if request else {}
    headers.update(exc.headers)
    return ORJSONResponse(exc.body(), status_code=exc.status_code, headers=headers)


def _page_error(request: Request, exc: AppError) -> Response:
    if isinstance(exc, SignInRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return web.redirect(request, f"/signin?{urlencode({'next': target})}")
    return web.render(
        request, "error.html", {"error": exc}, status_code=exc.status_code, headers=exc.headers
    )


async def app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    if is_page(request):
        return _page_error(request, exc)
    return _render(exc, request)


async def request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [FieldError(list(e["loc"]), str(e["msg"]), str(e["type"])) for e in exc.errors()]
    if is_page(request):
        return _page_error(request, ValidationFailed(errors))
    return _render(ValidationFailed(errors))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if is_page(request) and exc.status_code in _HTTP_REASONS:
        page_exc = NotFound() if exc.status_code == 404 else AppError(str(exc.detail))
        page_exc.status_code = exc.status_code
        return _page_error(request, page_exc)
    body = {
        "ok": False,
        "reason": _HTTP_REASONS.get(exc.status_code, "http_error"),
        "message": str(exc.detail),
    }
    return ORJSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def storage_down(_request: Request, exc: Exception) -> ORJSONResponse:
    log.warning("storage unavailable: %s", exc)
    return _render(Unavailable())


async def client_gone(_request: Request, _exc: Exception) -> Response:
    # The client hung up mid-request; the transaction is rolled back and nobody reads this.
    return Response(status_code=499)


async def unexpected(_request: Request, exc: Exception) -> ORJSONResponse:
    log.exception("unhandled error", exc_info=exc)
    body = {"ok": False, "reason": "internal_error", "message": "Internal error."}
    return ORJSONResponse(body, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, request_validation)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(ClientDisconnect, client_gone)
    for exc_type in (OperationalError, InterfaceError, PoolTimeout, ConnectionError):
        app.add_exception_handler(exc_type, storage_down)
    app.add_exception_handler(Exception, unexpected)

"""Every failure leaves as JSON `{ok: false, reason, message}`; storage trouble as 503."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from llmmeter.kit.errors import AppError, FieldError, Unavailable, ValidationFailed
from llmmeter.kit.responses import ORJSONResponse

log = logging.getLogger(__name__)

_HTTP_REASONS = {404: "not_found", 405: "method_not_allowed"}


def _render(exc: AppError, request: Request | None = None) -> ORJSONResponse:
    headers = dict(getattr(request.state, "response_headers", {})) if request else {}
    headers.update(exc.headers)
    return ORJSONResponse(exc.body(), status_code=exc.status_code, headers=headers)


async def app_error(request: Request, exc: Exception) -> ORJSONResponse:
    assert isinstance(exc, AppError)
    return _render(exc, request)


async def request_validation(_request: Request, exc: Exception) -> ORJSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [FieldError(list(e["loc"]), str(e["msg"]), str(e["type"])) for e in exc.errors()]
    return _render(ValidationFailed(errors))


async def http_error(_request: Request, exc: Exception) -> ORJSONResponse:
    assert isinstance(exc, HTTPException)
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

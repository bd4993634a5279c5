"""One error hierarchy; one handler renders every expected failure as JSON with a reason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class AppError(Exception):
    status_code = 500
    reason = "internal_error"
    message = "Internal error."

    def __init__(
        self,
        message: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.message = message or type(self).message
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"ok": False, "reason": self.reason, "message": self.message, **self.extra}


class BadRequest(AppError):
    status_code = 400
    reason = "validation_error"
    message = "The request body is not valid JSON."


class FieldError(dict[str, Any]):
    """One entry of `errors`: where (`loc`) and what (`msg`)."""

    def __init__(self, loc: Sequence[str | int], msg: str, type_: str = "value_error") -> None:
        super().__init__(loc=list(loc), msg=msg, type=type_)


class ValidationFailed(AppError):
    status_code = 422
    reason = "validation_error"
    message = "One or more fields are invalid."

    def __init__(self, errors: list[FieldError], message: str | None = None) -> None:
        super().__init__(message, extra={"errors": errors})
        self.errors = errors


class TimestampOutOfRange(AppError):
    status_code = 422
    reason = "timestamp_out_of_range"
    message = "createdAt must lie between 30 days ago and 5 minutes from now."


class InvalidAPIKey(AppError):
    status_code = 401
    reason = "invalid_api_key"
    message = "Missing, unknown, revoked or expired API key."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="llmmeter"'})


class NotFound(AppError):
    status_code = 404
    reason = "not_found"
    message = "Not found."


class PayloadTooLarge(AppError):
    status_code = 413
    reason = "payload_too_large"
    message = "The request body is too large."


class UnsupportedMediaType(AppError):
    status_code = 415
    reason = "unsupported_media_type"
    message = "Send the body as application/json."


class Unavailable(AppError):
    status_code = 503
    reason = "unavailable"
    message = "Storage is unavailable; retry later."

    def __init__(self, message: str | None = None, retry_after: int = 5) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class RateLimited(AppError):
    status_code = 429
    reason = "rate_limited"
    message = "Rate limit reached."


class PlanLimitReached(AppError):
    status_code = 402
    reason = "plan_limit_reached"
    message = "The monthly request quota of the plan is used up: telemetry is paused."


class BudgetExceeded(AppError):
    status_code = 402
    reason = "budget_exceeded"
    message = "The workspace budget is exceeded and its policy is hard_stop."

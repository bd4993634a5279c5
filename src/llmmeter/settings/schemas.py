"""Form fields of the settings pages, parsed into what the services take."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from llmmeter.kit.errors import FieldError, ValidationFailed

MAX_METADATA_KEYS = 64
MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 128


def parse_metadata_lines(text: str, field: str = "metadata") -> dict[str, str]:
    """`key=value`, one per line; blank lines and `#` comments are skipped."""
    out: dict[str, str] = {}
    errors: list[FieldError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            errors.append(FieldError([field, number], "write each default as key=value"))
        elif len(key) > MAX_KEY_CHARS or len(value) > MAX_VALUE_CHARS:
            errors.append(FieldError([field, number], "keys up to 64 characters, values up to 128"))
        else:
            out[key] = value
    if len(out) > MAX_METADATA_KEYS:
        errors.append(FieldError([field], f"at most {MAX_METADATA_KEYS} keys"))
    if errors:
        raise ValidationFailed(errors)
    return out


def metadata_lines(defaults: dict[str, str]) -> str:
    return "\n".join(f"{k}={v}" for k, v in sorted(defaults.items()))


def parse_usd(value: str, field: str, *, optional: bool = True) -> Decimal | None:
    text = value.strip().lstrip("$").replace(",", "")
    if not text and optional:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed([FieldError([field], "enter an amount like 25 or 0.50")]) from None
    if not amount.is_finite() or amount < 0 or amount > Decimal("1e12"):
        raise ValidationFailed([FieldError([field], "enter a non-negative amount")])
    return amount


def require_usd(value: str, field: str) -> Decimal:
    amount = parse_usd(value, field, optional=False)
    assert amount is not None
    return amount


def parse_ratio(value: str) -> Decimal:
    text = value.strip().rstrip("%")
    try:
        ratio = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed(
            [FieldError(["warning_ratio"], "enter a ratio like 0.8 or 80%")]
        ) from None
    if value.strip().endswith("%") or ratio > 1:
        ratio = ratio / 100
    return ratio


def parse_effective(value: str, now: datetime) -> datetime:
    if not value.strip():
        return now
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(
            [FieldError(["effective_at"], "use a date and time like 2026-12-01T00:00")]
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

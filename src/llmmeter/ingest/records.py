"""From a decoded JSON object to a normalised record, listing every bad field on the way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from llmmeter.ingest.schemas import (
    METADATA_MAX_KEY_LEN,
    METADATA_MAX_KEYS,
    METADATA_MAX_VALUE_LEN,
    LLMRequestIn,
)
from llmmeter.kit.errors import FieldError

MAX_WARNED_FIELDS = 20


@dataclass(frozen=True, slots=True)
class Record:
    external_request_id: str
    provider: str
    model: str
    status: str
    error_code: str | None
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cached_input_tokens: int | None
    reasoning_tokens: int | None
    latency_ms: int | None
    prompt_version: str
    endpoint_tag: str
    user_id: str | None
    tenant_id: str | None
    feature_tag: str | None
    data_mode: str | None  # None: the endpoint's or key's default applies
    environment: str
    created_at: datetime | None
    metadata: dict[str, str]
    warnings: tuple[str, ...]


def parse_record(obj: Any, loc: Sequence[str | int] = ()) -> Record | list[FieldError]:
    if not isinstance(obj, dict):
        return [FieldError(list(loc), "must be a JSON object", "model_type")]
    errors: list[FieldError] = []
    parsed: LLMRequestIn | None = None
    try:
        parsed = LLMRequestIn.model_validate(obj)
    except ValidationError as exc:
        errors.extend(
            FieldError([*loc, *e["loc"]], _message(e["msg"]), e["type"])
            for e in exc.errors(include_url=False, include_context=False, include_input=False)
        )
    raw_metadata = obj.get("metadata")
    metadata, meta_errors = normalise_metadata(raw_metadata, [*loc, "metadata"])
    errors.extend(meta_errors)
    if parsed is not None:
        errors.extend(_cross_field_errors(parsed, loc))
    if errors or parsed is None:
        return errors
    return _to_record(parsed, metadata)


def _message(msg: str) -> str:
    # pydantic's "Value error, " prefix says nothing to an API client.
    return msg.removeprefix("Value error, ")


def _cross_field_errors(p: LLMRequestIn, loc: Sequence[str | int]) -> list[FieldError]:
    errors: list[FieldError] = []
    if p.input_tokens is None and p.output_tokens is None:
        errors.append(
            FieldError([*loc, "inputTokens"], "inputTokens or outputTokens is required", "missing")
        )
    if (p.cached_input_tokens or 0) > (p.input_tokens or 0):
        errors.append(
            FieldError(
                [*loc, "cachedInputTokens"], "must not exceed inputTokens", "less_than_equal"
            )
        )
    if (p.reasoning_tokens or 0) > (p.output_tokens or 0):
        errors.append(
            FieldError([*loc, "reasoningTokens"], "must not exceed outputTokens", "less_than_equal")
        )
    return errors


def normalise_metadata(raw: Any, loc: list[str | int]) -> tuple[dict[str, str], list[FieldError]]:
    if raw is None or not isinstance(raw, dict):
        return {}, []  # a wrong type is reported by the schema
    out: dict[str, str] = {}
    errors: list[FieldError] = []
    for key, value in raw.items():
        if value is None:
            continue  # clients send nulls for unset values
        if "\x00" in key or "\x00" in str(value):
            errors.append(FieldError([*loc, key], "must not contain the NUL character (U+0000)"))
            continue
        if not key or len(key) > METADATA_MAX_KEY_LEN:
            errors.append(
                FieldError([*loc, key], f"keys must be 1 to {METADATA_MAX_KEY_LEN} characters")
            )
            continue
        text = _metadata_value(value)
        if text is None:
            errors.append(
                FieldError(
                    [*loc, key], "must be a string, number or boolean (no nested objects or arrays)"
                )
            )
        elif len(text) > METADATA_MAX_VALUE_LEN:
            errors.append(
                FieldError([*loc, key], f"must be at most {METADATA_MAX_VALUE_LEN} characters")
            )
        else:
            out[key] = text
    if len(out) > METADATA_MAX_KEYS:
        errors.append(FieldError(loc, f"must have at most {METADATA_MAX_KEYS} keys"))
    return out, errors


def _metadata_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value)
    return None


def _default_label(value: str | None) -> str:
    return value if value and value.strip() else "unknown"


def _to_record(p: LLMRequestIn, metadata: dict[str, str]) -> Record:
    input_tokens = p.input_tokens or 0
    output_tokens = p.output_tokens or 0
    if "_user" not in metadata and p.user_id is not None:
        metadata["_user"] = p.user_id
    extra = sorted(p.model_extra or {})
    warnings = tuple(f"unknown_field:{name}" for name in extra[:MAX_WARNED_FIELDS])
    return Record(
        external_request_id=p.external_request_id,
        provider=p.provider.strip().lower(),
        model=p.model,
        status=p.status,
        error_code=p.error_code,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=p.total_tokens if p.total_tokens is not None else input_tokens + output_tokens,
        cached_input_tokens=p.cached_input_tokens,
        reasoning_tokens=p.reasoning_tokens,
        latency_ms=p.latency_ms,
        prompt_version=_default_label(p.prompt_version),
        endpoint_tag=_default_label(p.endpoint_tag),
        user_id=p.user_id,
        tenant_id=p.tenant_id if p.tenant_id is not None else metadata.get("tenantId"),
        feature_tag=p.feature_tag,
        data_mode=p.data_mode,
        environment=p.environment or "prod",
        created_at=p.created_at.astimezone(UTC) if p.created_at is not None else None,
        metadata=metadata,
        warnings=warnings,
    )

"""Wire format of the ingest API (Opsmeter-compatible field names, camelCase, case-sensitive)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

MAX_TOKENS = 10**9
MAX_TOTAL_TOKENS = 2 * 10**9
MAX_LATENCY_MS = 86_400_000
METADATA_MAX_KEYS = 64
METADATA_MAX_KEY_LEN = 64
METADATA_MAX_VALUE_LEN = 128
ENVIRONMENT_ALIASES = {"production": "prod", "development": "dev", "stage": "staging"}


def _whole_number(value: Any) -> Any:
    # bool is an int in Python and "12" would pass lax mode: neither is a token count.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "must be a whole number (not a string or boolean)")
    if isinstance(value, float) and not value.is_integer():
        raise PydanticCustomError("int_fraction", "must be a whole number, got a fraction")
    return int(value)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _environment(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip().lower()
        return ENVIRONMENT_ALIASES.get(value, value)
    return value


# Printable and without whitespace: no C0/C1 control characters, no spaces of any kind.
EXTERNAL_ID_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f]+$"
_EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)


def _external_id(value: Any) -> Any:
    if isinstance(value, str) and value and not _EXTERNAL_ID.match(value):
        raise PydanticCustomError(
            "string_pattern_mismatch", "must be printable characters without whitespace"
        )
    return value


def _no_nul(value: Any) -> Any:
    # PostgreSQL text and JSONB cannot hold U+0000; refuse it here rather than fail on store.
    if isinstance(value, str) and "\x00" in value:
        raise PydanticCustomError("string_nul", "must not contain the NUL character (U+0000)")
    return value


WholeNumber = BeforeValidator(_whole_number)
NoNul = BeforeValidator(_no_nul)
Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS), WholeNumber]
Label = Annotated[str, Field(max_length=128), NoNul]


class LLMRequestIn(BaseModel):
    """One LLM call. Unknown top-level fields are ignored and named in `warnings`."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=False,
        extra="allow",
        str_strip_whitespace=False,
        json_schema_extra={
            # At least one token count, given as a number (null counts as absent).
            "anyOf": [
                {"required": ["inputTokens"], "properties": {"inputTokens": {"type": "integer"}}},
                {"required": ["outputTokens"], "properties": {"outputTokens": {"type": "integer"}}},
            ],
            "example": {
                "externalRequestId": "req_01HZXB6MQZ2WQ9D2KCF9M4V2QY",
                "provider": "openai",
                "model": "gpt-4o-mini",
                "promptVersion": "summarizer_v3",
                "endpointTag": "checkout.ai_summary",
                "inputTokens": 120,
                "outputTokens": 45,
                "totalTokens": 165,
                "latencyMs": 820,
                "status": "success",
                "errorCode": None,
                "userId": "u_9f2c",
                "dataMode": "real",
                "environment": "prod",
                "metadata": {"tenantId": "acme", "feature": "summary"},
            },
        },
    )

    external_request_id: Annotated[
        str,
        BeforeValidator(_external_id),
        Field(min_length=1, max_length=128),
        WithJsonSchema(
            {"type": "string", "minLength": 1, "maxLength": 128, "pattern": EXTERNAL_ID_PATTERN}
        ),
    ] = Field(description="Idempotency key: one LLM call, one row, however often retried.")
    provider: Annotated[str, Field(min_length=1, max_length=64), NoNul] = Field(
        description="LLM provider, lower-cased on store (openai, anthropic, google, …)."
    )
    model: Annotated[str, Field(min_length=1, max_length=128), NoNul] = Field(
        description="Model name, stored as sent."
    )
    status: Annotated[Literal["success", "error"], BeforeValidator(_lower)] = Field(
        description="success or error (case-insensitive)."
    )
    input_tokens: Tokens | None = Field(default=None, description="0–10^9.")
    output_tokens: Tokens | None = Field(default=None, description="0–10^9.")
    total_tokens: Annotated[int, Field(ge=0, le=MAX_TOTAL_TOKENS), WholeNumber] | None = Field(
        default=None, description="0–2·10^9; input + output when absent."
    )
    cached_input_tokens: Tokens | None = Field(
        default=None, description="Part of inputTokens, priced at the cache-read rate."
    )
    reasoning_tokens: Tokens | None = Field(
        default=None, description="Part of outputTokens, priced at the reasoning rate."
    )
    latency_ms: Annotated[int, Field(ge=0, le=MAX_LATENCY_MS), WholeNumber] | None = None
    error_code: Label | None = None
    prompt_version: Label | None = Field(default=None, description="Default `unknown`.")
    endpoint_tag: Label | None = Field(
        default=None, description="The product feature, e.g. support.reply. Default `unknown`."
    )
    user_id: Label | None = Field(default=None, description="Hash it: never send PII.")
    tenant_id: Label | None = Field(default=None, description="Else read from metadata.tenantId.")
    feature_tag: Label | None = None
    data_mode: Annotated[Literal["real", "test", "demo"], BeforeValidator(_lower)] | None = Field(
        default=None, description="Default `real` (`test` for lm_test_ keys)."
    )
    environment: (
        Annotated[Literal["prod", "staging", "dev"], BeforeValidator(_environment)] | None
    ) = Field(default=None, description="Default prod; production/development/stage accepted.")
    created_at: AwareDatetime | None = Field(
        default=None,
        description="ISO-8601 with offset; within [now − 30 days, now + 5 min]. Default: now.",
    )
    metadata: dict[str, Any] | None = Field(
        default=None,
        description=(
            "Flat object: ≤ 64 keys of ≤ 64 chars; string/number/boolean values stored as "
            "strings ≤ 128 chars; null values dropped; nested objects or arrays rejected."
        ),
    )


class LLMRequestBatchIn(BaseModel):
    requests: list[LLMRequestIn] = Field(min_length=1, max_length=500)


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class PlanAndBudget(_Camel):
    """Carried by every ingest answer, the 402 refusals included."""

    plan_tier: str
    plan_limit_requests: int | None = Field(description="null: unlimited.")
    free_limit_remaining_requests: int | None = Field(description="null: unlimited.")
    is_plan_limit_reached: bool
    telemetry_paused: bool = Field(description="The quota is used up: new calls are not stored.")
    provider_calls_continue: bool = Field(description="Always true: keep calling your LLM.")
    budget_warning: bool = Field(description="A budget passed its warning ratio.")
    budget_exceeded: bool = Field(description="A budget reached its limit.")


class IngestResponse(PlanAndBudget):
    """The answer to every accepted ingest (200)."""

    ok: bool
    request_id: str
    external_request_id: str
    deduplicated: bool
    updated: bool | None = Field(
        default=None, description="With deduplicated: whether the stored row was replaced."
    )
    cost_usd: float
    pricing_status: Literal["priced", "unknown"]
    warnings: list[str]
    reason: str | None


class BatchItemResult(_Camel):
    index: int
    ok: bool
    request_id: str | None
    external_request_id: str | None
    deduplicated: bool
    updated: bool | None = None
    cost_usd: float | None = None
    pricing_status: str | None = None
    warnings: list[str] = []
    reason: str | None
    message: str | None = None
    errors: list[dict[str, Any]] | None = None


class BatchResponse(PlanAndBudget):
    ok: bool
    accepted: int = Field(description="Items stored or deduplicated.")
    deduplicated: int
    rejected: int
    results: list[BatchItemResult]
    reason: str | None


class ErrorResponse(BaseModel):
    ok: Literal[False] = False
    reason: str
    message: str
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="validation_error: every bad field as {loc, msg, type}."
    )


class RefusalResponse(PlanAndBudget):
    """402: `plan_limit_reached` or `budget_exceeded`, with the plan and budget fields."""

    ok: Literal[False] = False
    reason: Literal["plan_limit_reached", "budget_exceeded"]
    message: str

"""Rates in USD per million tokens and the arithmetic that turns token counts into cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

MILLION = Decimal(1_000_000)
NANO_PER_USD = Decimal(1_000_000_000)


@dataclass(frozen=True, slots=True)
class TieredRate:
    """A base price and the prices that apply once total input tokens pass a threshold."""

    base: Decimal
    tiers: tuple[tuple[int, Decimal], ...] = ()

    def at(self, total_input_tokens: int) -> Decimal:
        for start, price in reversed(self.tiers):
            if total_input_tokens > start:
                return price
        return self.base


@dataclass(frozen=True, slots=True)
class Rate:
    input: TieredRate
    output: TieredRate
    cached_input: TieredRate | None = None
    reasoning: TieredRate | None = None
    source: str = "catalog"
    catalog: str | None = None
    provider_id: str | None = None
    model_id: str | None = None
    effective_from: str | None = None
    override_id: str | None = None


@dataclass(frozen=True, slots=True)
class TokenUsage:
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Cost:
    nano_usd: int
    snapshot: dict[str, Any] = field(default_factory=dict)


def compute_cost(rate: Rate, usage: TokenUsage) -> Cost:
    total_in = usage.input_tokens
    # Cached and reasoning tokens are part of input and output; a client that reports more
    # of them than the total is clamped rather than charged for tokens that did not exist.
    cached = min(usage.cached_input_tokens, total_in)
    reasoning = min(usage.reasoning_tokens, usage.output_tokens)
    input_price = rate.input.at(total_in)
    output_price = rate.output.at(total_in)
    cached_price = rate.cached_input.at(total_in) if rate.cached_input else input_price
    reasoning_price = rate.reasoning.at(total_in) if rate.reasoning else output_price
    usd = (
        (total_in - cached) * input_price
        + cached * cached_price
        + (usage.output_tokens - reasoning) * output_price
        + reasoning * reasoning_price
    ) / MILLION
    nano = int((usd * NANO_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    snapshot = {
        "source": rate.source,
        "catalog": rate.catalog,
        "providerId": rate.provider_id,
        "modelId": rate.model_id,
        "currency": "USD",
        "inputPer1M": str(input_price),
        "cachedInputPer1M": str(cached_price),
        "outputPer1M": str(output_price),
        "reasoningPer1M": str(reasoning_price),
        "effectiveFrom": rate.effective_from,
        "overrideId": rate.override_id,
    }
    return Cost(nano_usd=nano, snapshot=snapshot)


def nano_to_usd(nano: int) -> float:
    return nano / 1_000_000_000

from __future__ import annotations

from decimal import Decimal

from llmmeter.pricing.rates import Rate, TieredRate, TokenUsage, compute_cost


def _rate(**kw: TieredRate | None) -> Rate:
    return Rate(input=TieredRate(Decimal(2)), output=TieredRate(Decimal(8)), **kw)  # type: ignore[arg-type]


def test_plain_input_and_output() -> None:
    assert compute_cost(_rate(), TokenUsage(1_000_000, 500_000)).nano_usd == 6_000_000_000


def test_cached_input_and_reasoning_use_their_rates() -> None:
    rate = _rate(cached_input=TieredRate(Decimal("0.5")), reasoning=TieredRate(Decimal(20)))
    cost = compute_cost(rate, TokenUsage(1000, 100, cached_input_tokens=400, reasoning_tokens=10))
    # (600·2 + 400·0.5 + 90·8 + 10·20) / 1M = $0.00232
    assert cost.nano_usd == 2_320_000
    assert cost.snapshot["cachedInputPer1M"] == "0.5"
    assert cost.snapshot["reasoningPer1M"] == "20"


def test_missing_cache_rate_falls_back_to_input_rate() -> None:
    cost = compute_cost(_rate(), TokenUsage(1000, 0, cached_input_tokens=1000))
    assert cost.nano_usd == 2_000_000


def test_tier_applies_above_its_threshold_by_total_input() -> None:
    tiered = Rate(
        input=TieredRate(Decimal(3), ((200_000, Decimal(6)),)),
        output=TieredRate(Decimal(15), ((200_000, Decimal("22.5")),)),
    )
    assert compute_cost(tiered, TokenUsage(200_000, 0)).nano_usd == 600_000_000
    above = compute_cost(tiered, TokenUsage(200_001, 1000))
    # 200,001 · $6/1M + 1,000 · $22.5/1M = $1.222506
    assert above.nano_usd == 1_222_506_000
    assert above.snapshot["inputPer1M"] == "6"


def test_rounding_is_to_the_nearest_nano_dollar() -> None:
    cheap = Rate(input=TieredRate(Decimal("0.0001")), output=TieredRate(Decimal(0)))
    assert compute_cost(cheap, TokenUsage(4, 0)).nano_usd == 0
    assert compute_cost(cheap, TokenUsage(6, 0)).nano_usd == 1

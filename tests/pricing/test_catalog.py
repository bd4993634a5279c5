from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from genai_prices import Usage, calc_price

from llmmeter.pricing.catalog import PriceCatalog
from llmmeter.pricing.rates import TokenUsage, compute_cost

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)


def test_matches_genai_prices_for_common_models() -> None:
    catalog = PriceCatalog()
    cases = [
        ("openai", "gpt-4o-mini", 1200, 300, 200),
        ("openai", "gpt-4o", 5000, 800, 0),
        ("anthropic", "claude-sonnet-4-5", 250_000, 4000, 1000),
        ("google", "gemini-2.5-pro", 1000, 2000, 0),
    ]
    for provider, model, inp, out, cached in cases:
        rate = catalog.rate(provider, model, NOW)
        assert rate is not None, model
        ours = compute_cost(rate, TokenUsage(inp, out, cached_input_tokens=cached)).nano_usd
        usage = Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cached)
        theirs = calc_price(usage, model, provider_id=provider, genai_request_timestamp=NOW)
        assert ours == int((theirs.total_price * Decimal(10**9)).to_integral_value()), model


def test_unknown_model_and_unknown_provider() -> None:
    catalog = PriceCatalog()
    assert catalog.rate("openai", "no-such-model-xyz", NOW) is None
    assert catalog.rate("acme", "house-model", NOW) is None
    # A provider the catalog lacks (a gateway) still prices a model it can recognise.
    via_gateway = catalog.rate("my-gateway", "gpt-4o-mini", NOW)
    assert via_gateway is not None
    assert via_gateway.model_id == "gpt-4o-mini"


def test_rate_is_resolved_once_per_day() -> None:
    catalog = PriceCatalog()
    first = catalog.rate("openai", "gpt-4o-mini", NOW)
    assert catalog.rate("openai", "gpt-4o-mini", NOW.replace(hour=23)) is first
    assert catalog.rate("openai", "gpt-4o-mini", datetime(2026, 11, 2, tzinfo=UTC)) is not first


def test_public_model_list() -> None:
    models = PriceCatalog().models
    assert len(models) > 100
    mini = next(m for m in models if (m.provider, m.model) == ("openai", "gpt-4o-mini"))
    assert (mini.input_per_1m, mini.output_per_1m) == (Decimal("0.15"), Decimal("0.6"))

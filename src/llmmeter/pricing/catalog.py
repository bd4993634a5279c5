"""The dated public price catalog (the genai-prices package), resolved once per model and day."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property
from importlib.metadata import version
from typing import Any

from genai_prices import data_snapshot
from genai_prices import types as gp

from llmmeter.pricing.rates import Rate, TieredRate

_MISSING = object()


@dataclass(frozen=True, slots=True)
class CatalogModel:
    provider: str
    model: str
    name: str | None
    input_per_1m: Decimal | None
    output_per_1m: Decimal | None
    effective_from: date | None


class PriceCatalog:
    """Thread-safe memo over genai-prices; its own lookups cost ~170 µs per call uncached."""

    def __init__(self) -> None:
        self._snapshot = data_snapshot.get_snapshot()
        self.label = f"genai-prices {version('genai-prices')}"
        self._models: dict[tuple[str, str], Any] = {}
        self._rates: dict[tuple[str, str, date], Rate] = {}
        self._lock = threading.Lock()
        # Per-workspace pricers (overrides + this catalog), keyed by (workspace, version).
        self.workspace_pricers: dict[tuple[uuid.UUID, int], Any] = {}

    def remember_pricer(self, key: tuple[uuid.UUID, int], pricer: Any) -> None:
        with self._lock:
            if len(self.workspace_pricers) > 10_000:
                self.workspace_pricers.clear()
            self.workspace_pricers[key] = pricer

    def rate(self, provider: str, model: str, at: datetime) -> Rate | None:
        day = at.astimezone(UTC).date()
        key = (provider, model, day)
        if (cached := self._rates.get(key)) is not None:
            return cached
        found = self._find(provider, model)
        if found is None:
            return None
        prov, info = found
        rate = self._to_rate(prov, info, at)
        if not _time_of_day_dependent(info):
            with self._lock:
                if len(self._rates) > 50_000:
                    self._rates.clear()
                self._rates[key] = rate
        return rate

    def _find(self, provider: str, model: str) -> tuple[gp.Provider, gp.ModelInfo] | None:
        key = (provider, model)
        hit = self._models.get(key, _MISSING)
        if hit is _MISSING:
            hit = self._lookup(provider, model)
            with self._lock:
                self._models[key] = hit
        return hit  # type: ignore[no-any-return]

    def _lookup(self, provider: str, model: str) -> tuple[gp.Provider, gp.ModelInfo] | None:
        found: tuple[gp.Provider, gp.ModelInfo]
        try:
            found = self._snapshot.find_provider_model(model, None, provider, None)
            return found
        except LookupError:
            pass
        if data_snapshot.find_provider_by_id(self._snapshot.providers, provider) is not None:
            return None
        # A provider the catalog does not know (a gateway, a proxy): match on the model alone.
        try:
            found = self._snapshot.find_provider_model(model, None, None, None)
            return found
        except LookupError:
            return None

    def _to_rate(self, prov: gp.Provider, info: gp.ModelInfo, at: datetime) -> Rate:
        prices = info.get_prices(at)
        return Rate(
            input=_tiered(prices.input_mtok) or TieredRate(Decimal(0)),
            output=_tiered(prices.output_mtok) or TieredRate(Decimal(0)),
            cached_input=_tiered(prices.cache_read_mtok),
            reasoning=_tiered(prices.output_reasoning_mtok),
            source="catalog",
            catalog=self.label,
            provider_id=prov.id,
            model_id=info.id,
            effective_from=_effective_from(info, at),
        )

    @cached_property
    def models(self) -> list[CatalogModel]:
        now = datetime.now(UTC)
        rows: list[CatalogModel] = []
        for prov in self._snapshot.providers:
            for info in prov.models:
                prices = info.get_prices(now)
                inp, out = _tiered(prices.input_mtok), _tiered(prices.output_mtok)
                if inp is None and out is None:
                    continue
                start = _effective_from(info, now)
                rows.append(
                    CatalogModel(
                        provider=prov.id,
                        model=info.id,
                        name=info.name,
                        input_per_1m=inp.base if inp else None,
                        output_per_1m=out.base if out else None,
                        effective_from=date.fromisoformat(start) if start else None,
                    )
                )
        rows.sort(key=lambda m: (m.provider, m.model))
        return rows


def _tiered(value: object) -> TieredRate | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return TieredRate(value)
    if isinstance(value, gp.TieredPrices):
        return TieredRate(value.base, tuple((t.start, t.price) for t in value.tiers))
    return None


def _conditional(info: gp.ModelInfo) -> list[gp.ConditionalPrice]:
    return [] if isinstance(info.prices, gp.ModelPrice) else list(info.prices)


def _time_of_day_dependent(info: gp.ModelInfo) -> bool:
    return any(isinstance(c.constraint, gp.TimeOfDateConstraint) for c in _conditional(info))


def _effective_from(info: gp.ModelInfo, at: datetime) -> str | None:
    started = [
        c.constraint.start_date
        for c in _conditional(info)
        if isinstance(c.constraint, gp.StartDateConstraint) and c.constraint.active(at)
    ]
    return max(started).isoformat() if started else None

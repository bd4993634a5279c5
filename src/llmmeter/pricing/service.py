"""Server-side pricing: a workspace's overrides first, then the dated public catalog."""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.kit.errors import FieldError, ValidationFailed
from llmmeter.kit.tenancy import Tenant
from llmmeter.models import PriceOverride
from llmmeter.pricing.catalog import CatalogModel, PriceCatalog
from llmmeter.pricing.rates import Cost, Rate, TieredRate, TokenUsage, compute_cost
from llmmeter.pricing.repository import price_override_repository
from llmmeter.pricing.schemas import PricingModel, PricingModelsResponse

PRICED = "priced"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class PriceResult:
    cost: Cost
    status: str


class Pricer:
    """Prices the records of one request for one workspace."""

    def __init__(self, catalog: PriceCatalog, overrides: Sequence[PriceOverride]) -> None:
        self._catalog = catalog
        by_model: dict[tuple[str, str], list[tuple[datetime, Rate]]] = {}
        for o in overrides:
            by_model.setdefault((o.provider, o.model.lower()), []).append(
                (o.effective_at, _override_rate(o))
            )
        # Per provider/model: effective times in order, and the rate from each.
        self._overrides: dict[tuple[str, str], tuple[list[datetime], list[Rate]]] = {}
        for key, entries in by_model.items():
            entries.sort(key=lambda e: e[0])
            self._overrides[key] = ([at for at, _ in entries], [rate for _, rate in entries])

    def price(self, provider: str, model: str, at: datetime, usage: TokenUsage) -> PriceResult:
        rate = self._override(provider, model, at) or self._catalog.rate(provider, model, at)
        if rate is None:
            return PriceResult(Cost(0, {}), UNKNOWN)
        return PriceResult(compute_cost(rate, usage), PRICED)

    def _override(self, provider: str, model: str, at: datetime) -> Rate | None:
        found = self._overrides.get((provider, model.lower()))
        if found is None:
            return None
        times, rates = found
        i = bisect.bisect_right(times, at)
        return rates[i - 1] if i else None


class PricingService:
    def cached_pricer(
        self, catalog: PriceCatalog, workspace_id: uuid.UUID, pricing_version: int
    ) -> Pricer | None:
        hit: Pricer | None = catalog.workspace_pricers.get((workspace_id, pricing_version))
        return hit

    async def pricer(
        self,
        session: AsyncSession,
        catalog: PriceCatalog,
        tenant: Tenant,
        workspace_id: uuid.UUID,
        pricing_version: int,
    ) -> Pricer:
        # Overrides change rarely; the workspace's pricing_version (read with the API key)
        # tells when a cached copy is stale, so no request pays a query for them.
        key = (workspace_id, pricing_version)
        hit: Pricer | None = catalog.workspace_pricers.get(key)
        if hit is not None:
            return hit
        overrides = await price_override_repository.list_for(session, tenant)
        pricer = Pricer(catalog, overrides)
        catalog.remember_pricer(key, pricer)
        return pricer

    async def overrides(self, session: AsyncSession, tenant: Tenant) -> Sequence[PriceOverride]:
        return await price_override_repository.list_for(session, tenant)

    async def add_override(
        self,
        session: AsyncSession,
        workspace_id: uuid.UUID,
        *,
        provider: str,
        model: str,
        input_per_1m: Decimal,
        output_per_1m: Decimal,
        effective_at: datetime,
        cached_input_per_1m: Decimal | None = None,
        reasoning_per_1m: Decimal | None = None,
    ) -> PriceOverride:
        errors = [
            FieldError([name], "must be a non-negative price in USD per million tokens")
            for name, value in (
                ("inputPer1M", input_per_1m),
                ("outputPer1M", output_per_1m),
                ("cachedInputPer1M", cached_input_per_1m),
                ("reasoningPer1M", reasoning_per_1m),
            )
            if value is not None and (not value.is_finite() or value < 0)
        ]
        if not provider.strip() or not model.strip():
            errors.append(FieldError(["model"], "provider and model are required"))
        if effective_at.tzinfo is None:
            errors.append(FieldError(["effectiveAt"], "must carry a UTC offset"))
        if errors:
            raise ValidationFailed(errors)
        override = PriceOverride(
            workspace_id=workspace_id,
            provider=provider.strip().lower(),
            model=model.strip().lower(),
            input_per_1m=input_per_1m,
            output_per_1m=output_per_1m,
            cached_input_per_1m=cached_input_per_1m,
            reasoning_per_1m=reasoning_per_1m,
            effective_at=effective_at,
        )
        return await price_override_repository.add(session, override)

    def public_models(
        self,
        catalog: PriceCatalog,
        *,
        provider: str | None,
        q: str | None,
        limit: int,
        offset: int,
    ) -> PricingModelsResponse:
        rows = catalog.models
        if provider:
            rows = [m for m in rows if m.provider == provider.strip().lower()]
        if q:
            needle = q.strip().lower()
            rows = [
                m
                for m in rows
                if needle in m.provider
                or needle in m.model.lower()
                or needle in (m.name or "").lower()
            ]
        page = [_public_model(m) for m in rows[offset : offset + limit]]
        return PricingModelsResponse(data=page, total=len(rows), limit=limit, offset=offset)


def _public_model(m: CatalogModel) -> PricingModel:
    return PricingModel(
        provider=m.provider,
        model=m.model,
        name=m.name,
        input_price_per_1m=float(m.input_per_1m) if m.input_per_1m is not None else None,
        output_price_per_1m=float(m.output_per_1m) if m.output_per_1m is not None else None,
        effective_from=m.effective_from.isoformat() if m.effective_from else None,
    )


def _override_rate(o: PriceOverride) -> Rate:
    return Rate(
        input=TieredRate(o.input_per_1m),
        output=TieredRate(o.output_per_1m),
        cached_input=TieredRate(o.cached_input_per_1m)
        if o.cached_input_per_1m is not None
        else None,
        reasoning=TieredRate(o.reasoning_per_1m) if o.reasoning_per_1m is not None else None,
        source="override",
        provider_id=o.provider,
        model_id=o.model,
        effective_from=o.effective_at.isoformat(),
        override_id=str(o.id),
    )


pricing_service = PricingService()

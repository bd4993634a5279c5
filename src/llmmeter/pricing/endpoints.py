from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from llmmeter.kit.state import app_state
from llmmeter.pricing.schemas import PricingModelsResponse
from llmmeter.pricing.service import pricing_service

router = APIRouter(prefix="/v1/public", tags=["pricing"])


@router.get(
    "/pricing-models",
    summary="The public price catalog",
    description="Current catalog prices in USD per million tokens (base tier), no auth. "
    "Filter by exact `provider` and by `q` (substring of provider, model or name, "
    "case-insensitive); page with `limit` (1–500) and `offset`.",
    response_model=PricingModelsResponse,
)
def pricing_models(
    request: Request,
    provider: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> PricingModelsResponse:
    return pricing_service.public_models(
        app_state(request).catalog, provider=provider, q=q, limit=limit, offset=offset
    )

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PricingModel(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    provider: str
    model: str
    name: str | None
    input_price_per_1m: float | None = Field(alias="inputPricePer1M")
    output_price_per_1m: float | None = Field(alias="outputPricePer1M")
    effective_from: str | None = Field(
        alias="effectiveFrom", description="Date the current price took effect, when known."
    )


class PricingModelsResponse(BaseModel):
    data: list[PricingModel]
    total: int
    limit: int
    offset: int

"""Shape of the workspace-status body, for the OpenAPI document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class PlanStatus(_Camel):
    plan_tier: str
    plan_name: str
    current_request_count: int
    plan_request_limit: int | None
    remaining_request_count: int | None
    is_plan_limit_reached: bool
    telemetry_paused: bool
    period_start: str
    period_end: str


class PeriodBudgetStatus(_Camel):
    limit_usd: float | None
    current_spend_usd: float
    utilization_ratio: float | None
    is_warning: bool
    is_exceeded: bool
    period: Literal["daily", "monthly"]
    period_start: str
    period_end: str


class BudgetStatus(_Camel):
    warning_threshold_ratio: float
    daily: PeriodBudgetStatus
    monthly: PeriodBudgetStatus


class WorkspaceStatus(_Camel):
    workspace_id: str
    is_plan_limit_reached: bool
    telemetry_paused: bool
    provider_calls_continue: bool
    is_budget_warning: bool
    is_budget_exceeded: bool
    severity: Literal["normal", "warning", "critical"]
    plan: PlanStatus
    budget: BudgetStatus

"""Workspace status: plan, quota and budget posture in one body (SPEC), for API clients and,
from the same service, for the signed-in UI."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.budget.config import BudgetConfig
from llmmeter.budget.service import BudgetState, budget_service, iso_utc
from llmmeter.config import Settings
from llmmeter.plan.service import PlanState, plan_service


@dataclass(frozen=True, slots=True)
class StatusSubject:
    workspace_id: uuid.UUID
    plan_tier: str
    time_zone: str
    budget: BudgetConfig


def severity(plan: PlanState, budget: BudgetState) -> str:
    if plan.limit_reached or budget.is_exceeded:
        return "critical"
    if budget.is_warning:
        return "warning"
    return "normal"


class DiagnosticsService:
    async def workspace_status(
        self, session: AsyncSession, settings: Settings, subject: StatusSubject, now: datetime
    ) -> dict[str, Any]:
        usage = await plan_service.usage(session, subject.workspace_id, subject.time_zone, now)
        plan = plan_service.state(settings, subject.plan_tier, usage)
        budget = budget_service.state(subject.budget, usage)
        return {
            "workspaceId": str(subject.workspace_id),
            "isPlanLimitReached": plan.limit_reached,
            "telemetryPaused": plan.limit_reached,
            "providerCallsContinue": True,
            "isBudgetWarning": budget.is_warning,
            "isBudgetExceeded": budget.is_exceeded,
            "severity": severity(plan, budget),
            "plan": {
                "planTier": plan.tier,
                "planName": plan.plan.name,
                "currentRequestCount": plan.used,
                "planRequestLimit": plan.limit,
                "remainingRequestCount": plan.remaining,
                "isPlanLimitReached": plan.limit_reached,
                "telemetryPaused": plan.limit_reached,
                "periodStart": iso_utc(plan.period.start),
                "periodEnd": iso_utc(plan.period.last_second),
            },
            "budget": budget.body(),
        }


diagnostics_service = DiagnosticsService()

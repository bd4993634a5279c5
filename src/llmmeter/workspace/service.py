from __future__ import annotations

from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.budget.config import BudgetPolicy
from llmmeter.config import PlanTier
from llmmeter.kit.errors import FieldError, NotFound, ValidationFailed
from llmmeter.kit.tenancy import Tenant
from llmmeter.models import Workspace
from llmmeter.workspace.repository import workspace_repository


def _check_time_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed([FieldError(["timeZone"], f"unknown time zone {name!r}")]) from None


class WorkspaceService:
    async def create(
        self,
        session: AsyncSession,
        name: str,
        plan: PlanTier,
        *,
        time_zone: str = "UTC",
        metadata_defaults: dict[str, str] | None = None,
    ) -> Workspace:
        if not name.strip() or len(name) > 128:
            raise ValidationFailed([FieldError(["name"], "must be 1 to 128 characters")])
        _check_time_zone(time_zone)
        workspace = Workspace(
            name=name.strip(),
            plan_tier=plan.value,
            time_zone=time_zone,
            metadata_defaults=metadata_defaults or {},
        )
        return await workspace_repository.add(session, workspace)

    async def get(self, session: AsyncSession, tenant: Tenant) -> Workspace:
        workspace = await workspace_repository.get(session, tenant)
        if workspace is None:
            raise NotFound("No such workspace.")
        return workspace

    async def set_plan(self, session: AsyncSession, tenant: Tenant, plan: PlanTier) -> Workspace:
        """Takes effect on the next request: every ingest reads the plan with its API key."""
        workspace = await self.get(session, tenant)
        workspace.plan_tier = plan.value
        await workspace_repository.save(session, workspace)
        return workspace

    async def set_budget(
        self,
        session: AsyncSession,
        tenant: Tenant,
        *,
        daily_usd: Decimal | None,
        monthly_usd: Decimal | None,
        warning_ratio: Decimal = Decimal("0.8"),
        policy: BudgetPolicy = BudgetPolicy.observe,
    ) -> Workspace:
        errors = [
            FieldError([name], "must be a non-negative amount in USD, or empty for no limit")
            for name, value in (("dailyLimitUsd", daily_usd), ("monthlyLimitUsd", monthly_usd))
            if value is not None and (not value.is_finite() or value < 0)
        ]
        if not (warning_ratio.is_finite() and 0 < warning_ratio <= 1):
            errors.append(FieldError(["warningThresholdRatio"], "must be above 0 and at most 1"))
        if errors:
            raise ValidationFailed(errors)
        workspace = await self.get(session, tenant)
        workspace.budget_daily_usd = daily_usd
        workspace.budget_monthly_usd = monthly_usd
        workspace.budget_warning_ratio = warning_ratio
        workspace.budget_policy = policy.value
        await workspace_repository.save(session, workspace)
        return workspace

    async def set_metadata_defaults(
        self, session: AsyncSession, tenant: Tenant, defaults: dict[str, str]
    ) -> Workspace:
        workspace = await self.get(session, tenant)
        workspace.metadata_defaults = defaults
        await workspace_repository.save(session, workspace)
        return workspace

    async def set_scoped_budgets(
        self, session: AsyncSession, tenant: Tenant, entries: list[dict[str, Any]]
    ) -> None:
        """Written straight to the row (whatever this session last read): ingest reads it."""
        await workspace_repository.set_scoped_budgets(session, tenant, entries)

    async def count(self, session: AsyncSession) -> int:
        return await workspace_repository.count(session)


workspace_service = WorkspaceService()

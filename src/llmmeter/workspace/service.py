from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

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

    async def count(self, session: AsyncSession) -> int:
        return await workspace_repository.count(session)


workspace_service = WorkspaceService()

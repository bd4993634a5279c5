"""The settings pages: API keys, budgets and plan, metadata defaults, price overrides,
members and invitations, data hygiene. Each action is one call into the owning domain's
service; this module only decides what a page shows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.analytics.service import analytics_service
from llmmeter.api_key.service import Grace, IssuedKey, KeyMode, api_key_service
from llmmeter.auth.principal import WebPrincipal
from llmmeter.budget.config import BudgetPolicy
from llmmeter.config import Settings
from llmmeter.dashboard.service import status_subject
from llmmeter.diagnostics.service import diagnostics_service
from llmmeter.kit.errors import FieldError, ValidationFailed
from llmmeter.member.roles import Permission, Role
from llmmeter.member.service import IssuedInvitation, member_service
from llmmeter.models import ApiKey
from llmmeter.pricing.service import pricing_service
from llmmeter.settings.schemas import (
    parse_effective,
    parse_metadata_lines,
    parse_ratio,
    parse_usd,
)
from llmmeter.workspace.service import workspace_service


@dataclass(frozen=True, slots=True)
class KeyView:
    key: ApiKey
    status: str  # active | expiring | expired | revoked


def key_status(key: ApiKey, now: datetime) -> str:
    if key.revoked_at is not None and key.revoked_at <= now:
        return "revoked"
    if key.expires_at is not None:
        return "expired" if key.expires_at <= now else "expiring"
    return "active"


class SettingsService:
    async def keys(
        self, session: AsyncSession, member: WebPrincipal, now: datetime
    ) -> dict[str, Any]:
        keys = await api_key_service.list(session, member)
        views = [KeyView(k, key_status(k, now)) for k in keys]
        return {"keys": views, "graces": list(Grace)}

    async def create_key(
        self, session: AsyncSession, member: WebPrincipal, name: str, mode: str, metadata: str
    ) -> IssuedKey:
        try:
            key_mode = KeyMode(mode)
        except ValueError:
            raise ValidationFailed([FieldError(["mode"], "live or test")]) from None
        return await api_key_service.create(
            session,
            member.workspace_id,
            name,
            mode=key_mode,
            metadata_defaults=parse_metadata_lines(metadata),
            created_by=member.user.id,
        )

    async def rotate_key(
        self,
        session: AsyncSession,
        member: WebPrincipal,
        key_id: uuid.UUID,
        grace: str,
        now: datetime,
    ) -> IssuedKey:
        try:
            grace_period = Grace(grace)
        except ValueError:
            raise ValidationFailed([FieldError(["grace"], "none, 1h, 24h or 7d")]) from None
        return await api_key_service.rotate(
            session, member, key_id, grace_period, now, by=member.user.id
        )

    async def revoke_key(
        self, session: AsyncSession, member: WebPrincipal, key_id: uuid.UUID, now: datetime
    ) -> None:
        await api_key_service.revoke(session, member, key_id, now)

    async def set_key_metadata(
        self, session: AsyncSession, member: WebPrincipal, key_id: uuid.UUID, text: str
    ) -> None:
        await api_key_service.set_metadata_defaults(
            session, member, key_id, parse_metadata_lines(text)
        )

    async def general(
        self, session: AsyncSession, settings: Settings, member: WebPrincipal, now: datetime
    ) -> dict[str, Any]:
        status = await diagnostics_service.workspace_status(
            session, settings, status_subject(member.workspace), now
        )
        plan = settings.plan(member.workspace.plan_tier)
        return {"status": status, "plan": plan, "policies": list(BudgetPolicy)}

    async def set_budget(
        self,
        session: AsyncSession,
        member: WebPrincipal,
        *,
        daily: str,
        monthly: str,
        warning_ratio: str,
        policy: str,
    ) -> None:
        try:
            budget_policy = BudgetPolicy(policy)
        except ValueError:
            raise ValidationFailed([FieldError(["policy"], "observe or hard_stop")]) from None
        await workspace_service.set_budget(
            session,
            member,
            daily_usd=parse_usd(daily, "daily"),
            monthly_usd=parse_usd(monthly, "monthly"),
            warning_ratio=parse_ratio(warning_ratio),
            policy=budget_policy,
        )

    async def set_metadata(self, session: AsyncSession, member: WebPrincipal, text: str) -> None:
        await workspace_service.set_metadata_defaults(session, member, parse_metadata_lines(text))

    async def pricing(self, session: AsyncSession, member: WebPrincipal) -> dict[str, Any]:
        return {"overrides": await pricing_service.overrides(session, member)}

    async def add_override(
        self,
        session: AsyncSession,
        member: WebPrincipal,
        form: dict[str, str],
        now: datetime,
    ) -> None:
        await pricing_service.add_override(
            session,
            member.workspace_id,
            provider=form["provider"],
            model=form["model"],
            input_per_1m=parse_usd(form["input_per_1m"], "input_per_1m", optional=False) or 0,  # type: ignore[arg-type]
            output_per_1m=parse_usd(form["output_per_1m"], "output_per_1m", optional=False) or 0,  # type: ignore[arg-type]
            cached_input_per_1m=parse_usd(form.get("cached_input_per_1m", ""), "cached"),
            effective_at=parse_effective(form.get("effective_at", ""), now),
        )

    async def members(
        self, session: AsyncSession, member: WebPrincipal, now: datetime
    ) -> dict[str, Any]:
        return {
            "members": await member_service.members(session, member),
            "invitations": await member_service.open_invitations(session, member, now),
            "roles": list(Role),
        }

    async def invite(
        self, session: AsyncSession, member: WebPrincipal, role: str, note: str, now: datetime
    ) -> IssuedInvitation:
        try:
            invited_role = Role(role)
        except ValueError:
            raise ValidationFailed(
                [FieldError(["role"], "owner, admin, member or viewer")]
            ) from None
        if invited_role is Role.owner and member.role != Role.owner:
            raise ValidationFailed([FieldError(["role"], "only an owner can invite an owner")])
        return await member_service.invite(
            session, member.workspace_id, invited_role, member.user, now, note=note
        )

    async def revoke_invitation(
        self, session: AsyncSession, member: WebPrincipal, invitation_id: uuid.UUID, now: datetime
    ) -> None:
        await member_service.revoke_invitation(session, member, invitation_id, now)

    async def set_role(
        self, session: AsyncSession, member: WebPrincipal, membership_id: uuid.UUID, role: str
    ) -> None:
        try:
            new_role = Role(role)
        except ValueError:
            raise ValidationFailed(
                [FieldError(["role"], "owner, admin, member or viewer")]
            ) from None
        await member_service.set_role(
            session, member, membership_id, new_role, actor_role=member.role
        )

    async def remove_member(
        self, session: AsyncSession, member: WebPrincipal, membership_id: uuid.UUID
    ) -> None:
        await member_service.remove(session, member, membership_id, actor_role=member.role)

    async def delete_test_data(
        self, session: AsyncSession, member: WebPrincipal, scope: str
    ) -> int:
        """`workspace`: every test and demo row (owners and admins); `mine`: those sent with
        keys this user made (anyone)."""
        if scope == "workspace":
            if not member.can(Permission.manage_workspace):
                raise ValidationFailed(
                    [FieldError(["scope"], "only owners and admins delete the workspace's data")]
                )
            return await analytics_service.delete_test_data(session, member, None)
        key_ids = await api_key_service.ids_created_by(session, member, member.user.id)
        return await analytics_service.delete_test_data(session, member, list(key_ids))


settings_service = SettingsService()

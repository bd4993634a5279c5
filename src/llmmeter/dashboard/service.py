"""What each dashboard page shows, assembled from the analytics query service and the
workspace-status service (the same body API clients get)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from llmmeter.alert.service import alert_service
from llmmeter.analytics.filters import DIMENSION_LABELS, Dimension, SortKey
from llmmeter.analytics.service import analytics_service, usd
from llmmeter.auth.principal import WebPrincipal
from llmmeter.budget.config import BudgetConfig
from llmmeter.config import Settings
from llmmeter.dashboard.schemas import View
from llmmeter.diagnostics.service import StatusSubject, diagnostics_service
from llmmeter.models import LLMRequest, Workspace

CSV_COLUMNS: tuple[tuple[str, Callable[[LLMRequest], object]], ...] = (
    ("requestId", lambda r: str(r.id)),
    ("externalRequestId", lambda r: r.external_request_id),
    ("createdAt", lambda r: r.created_at.isoformat()),
    ("provider", lambda r: r.provider),
    ("model", lambda r: r.model),
    ("status", lambda r: r.status),
    ("errorCode", lambda r: r.error_code or ""),
    ("endpointTag", lambda r: r.endpoint_tag),
    ("promptVersion", lambda r: r.prompt_version),
    ("userId", lambda r: r.user_id or ""),
    ("tenantId", lambda r: r.tenant_id or ""),
    ("inputTokens", lambda r: r.input_tokens),
    ("outputTokens", lambda r: r.output_tokens),
    ("totalTokens", lambda r: r.total_tokens),
    ("latencyMs", lambda r: "" if r.latency_ms is None else r.latency_ms),
    ("costUsd", lambda r: f"{usd(r.cost_nano_usd):.9f}"),
    ("pricingStatus", lambda r: r.pricing_status),
    ("dataMode", lambda r: r.data_mode),
    ("environment", lambda r: r.environment),
    ("metadata", lambda r: orjson.dumps(r.request_metadata, option=orjson.OPT_SORT_KEYS).decode()),
)
# A cell starting with one of these is a formula to a spreadsheet (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def status_subject(workspace: Workspace) -> StatusSubject:
    return StatusSubject(
        workspace_id=workspace.id,
        plan_tier=workspace.plan_tier,
        time_zone=workspace.time_zone,
        budget=BudgetConfig(
            daily_usd=workspace.budget_daily_usd,
            monthly_usd=workspace.budget_monthly_usd,
            warning_ratio=workspace.budget_warning_ratio,
            policy=workspace.budget_policy,
        ),
    )


class DashboardService:
    async def overview(
        self,
        session: AsyncSession,
        settings: Settings,
        member: WebPrincipal,
        view: View,
        now: datetime,
    ) -> dict[str, Any]:
        f = view.filters
        return {
            "overview": await analytics_service.overview(session, member, f),
            "previous": await analytics_service.overview(session, member, f.previous()),
            "status": await diagnostics_service.workspace_status(
                session, settings, status_subject(member.workspace), now
            ),
        }

    async def page(
        self,
        session: AsyncSession,
        settings: Settings,
        member: WebPrincipal,
        view: View,
        now: datetime,
    ) -> dict[str, Any]:
        ctx = await self.overview(session, settings, member, view, now)
        ctx["tags"] = await self.breakdown(session, member, view, Dimension.endpoint_tag)
        ctx["versions"] = await self.breakdown(session, member, view, Dimension.prompt_version)
        ctx["metadata_keys"] = await analytics_service.metadata_keys(session, member, view.filters)
        ctx["any_rows"] = ctx["overview"].requests > 0 or ctx["previous"].requests > 0
        return ctx

    async def breakdown(
        self,
        session: AsyncSession,
        member: WebPrincipal,
        view: View,
        dimension: Dimension,
        *,
        meta_key: str | None = None,
        sort: SortKey = SortKey.cost,
        descending: bool = True,
    ) -> dict[str, Any]:
        rows = await analytics_service.breakdown(
            session,
            member,
            view.filters,
            dimension,
            meta_key=meta_key,
            sort=sort,
            descending=descending,
        )
        firing = await alert_service.firing(session, member)
        marks = {r.scope_value: r.state for r in firing if r.scope_kind == dimension.value}
        return {
            "marks": marks,
            "dimension": dimension,
            "label": meta_key if dimension is Dimension.metadata else DIMENSION_LABELS[dimension],
            "meta_key": meta_key or "",
            "rows": rows,
            "sort": sort,
            "descending": descending,
        }

    async def movers(
        self, session: AsyncSession, member: WebPrincipal, view: View
    ) -> dict[str, Any]:
        movers = await analytics_service.movers(session, member, view.filters)
        return {"movers": movers, "labels": DIMENSION_LABELS}

    async def series(
        self, session: AsyncSession, member: WebPrincipal, view: View, stack_by: Dimension
    ) -> dict[str, Any]:
        data = asdict(await analytics_service.series(session, member, view.filters, stack_by))
        f = view.filters
        data["markers"] = await alert_service.markers(session, member, f.start, f.end)
        return data

    async def requests(
        self, session: AsyncSession, member: WebPrincipal, view: View, cursor: str | None
    ) -> dict[str, Any]:
        page = await analytics_service.page(session, member, view.filters, cursor)
        return {"page": page}

    async def request(
        self, session: AsyncSession, member: WebPrincipal, request_id: uuid.UUID
    ) -> LLMRequest:
        return await analytics_service.request(session, member, request_id)

    async def csv(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        member: WebPrincipal,
        view: View,
    ) -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([name for name, _ in CSV_COLUMNS])
        count = 0
        async for row in analytics_service.stream(sessionmaker, member, view.filters):
            writer.writerow([spreadsheet_safe(get(row)) for _, get in CSV_COLUMNS])
            count += 1
            if count % 500 == 0:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()


dashboard_service = DashboardService()

"""The ingest rules: validate, price, store each LLM call exactly once, answer with plan state.

Check order (SPEC): size → auth → rate limit → validate → dedupe → quota → store → commit.
Size and auth run as dependencies before the service is called. Rows are inserted before the
quota is counted (one statement updates the month's and the day's counters, the month's only
within the quota); calls over the quota are deleted again in the same transaction, so they are
never visible and never counted.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from llmmeter.auth.principal import IngestPrincipal
from llmmeter.budget.scoped import ScopedBudget
from llmmeter.budget.service import budget_service
from llmmeter.config import Plan, Settings
from llmmeter.ingest.records import Record, parse_record
from llmmeter.ingest.repository import COPY_FROM_ROWS, StoredCall, llm_request_repository
from llmmeter.kit.dialect import is_postgresql
from llmmeter.kit.errors import (
    AppError,
    BudgetExceeded,
    FieldError,
    PlanLimitReached,
    TimestampOutOfRange,
    Unavailable,
    ValidationFailed,
)
from llmmeter.kit.ids import new_id
from llmmeter.limits.service import RateLimiter, limits_service
from llmmeter.plan.service import Usage, plan_service
from llmmeter.pricing.catalog import PriceCatalog
from llmmeter.pricing.rates import TokenUsage, nano_to_usd
from llmmeter.pricing.service import Pricer, pricing_service

MAX_PAST = timedelta(days=30)
MAX_FUTURE = timedelta(minutes=5)
UNKNOWN_MODEL = "unknown_model"


class Writer(Protocol):
    """Stores one prepared record in a committed transaction, answers its outcome and state."""

    async def submit(
        self, ctx: IngestContext, item: Prepared
    ) -> tuple[Outcome, dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class IngestContext:
    principal: IngestPrincipal
    now: datetime
    settings: Settings
    catalog: PriceCatalog
    limiter: RateLimiter
    sessionmaker: async_sessionmaker[AsyncSession]
    writer: Writer
    header_metadata: dict[str, str] = field(default_factory=dict)
    forced_data_mode: str | None = None
    # Filled on the way (RateLimit-*); sent with the answer, error or not.
    response_headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Prepared:
    index: int
    record: Record
    row: dict[str, Any]


@dataclass(slots=True)
class Outcome:
    index: int
    external_request_id: str | None = None
    request_id: str | None = None
    deduplicated: bool = False
    updated: bool | None = None
    cost_nano_usd: int | None = None
    pricing_status: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: AppError | None = None


@dataclass(slots=True)
class Settled:
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    final_cost: dict[str, int] = field(default_factory=dict)  # of rows new in this request
    cost_delta: int = 0  # replaced rows stored earlier: new cost − old cost


@dataclass(slots=True)
class Inserted:
    first: dict[str, Prepared] = field(default_factory=dict)  # first item of each id
    ids: dict[str, uuid.UUID] = field(default_factory=dict)  # row id given to each id
    inserted: set[str] = field(default_factory=set)  # ids whose row this request created

    def is_new(self, item: Prepared) -> bool:
        ext = item.record.external_request_id
        return ext in self.inserted and self.first[ext] is item


class IngestService:
    async def ingest_one(self, ctx: IngestContext, payload: Any) -> dict[str, Any]:
        """One record, written by the context's writer (with the other records in flight, in
        one transaction, on PostgreSQL) and answered once committed. No session of its own:
        the key and the prices usually come from this worker's caches."""
        await self._rate_limit(ctx, 1)
        parsed = parse_record(payload)
        if isinstance(parsed, list):
            raise ValidationFailed(parsed)
        _check_event_time(parsed, ctx.now)
        p = ctx.principal
        pricer = pricing_service.cached_pricer(ctx.catalog, p.workspace_id, p.pricing_version)
        if pricer is None:
            async with ctx.sessionmaker() as session:
                pricer = await self._pricer(session, ctx)
        outcome, state = await ctx.writer.submit(ctx, self._prepare(0, parsed, ctx, pricer))
        if outcome.error is not None:
            raise outcome.error
        return {**_outcome_fields(outcome), **state, "reason": None}

    async def store_many(
        self, session: AsyncSession, jobs: list[tuple[IngestContext, Prepared]]
    ) -> list[tuple[Outcome, dict[str, Any]]]:
        """Stores single records of many requests in the caller's transaction, each answered as
        if it had been stored alone, in arrival order. Grouped by workspace in a fixed order
        (workspace id), so that concurrent writers take their row locks in the same order."""
        groups: dict[uuid.UUID, list[int]] = {}
        for position, (ctx, _item) in enumerate(jobs):
            groups.setdefault(ctx.principal.workspace_id, []).append(position)
        answers: list[tuple[Outcome, dict[str, Any]] | None] = [None] * len(jobs)
        for workspace_id in sorted(groups):
            positions = groups[workspace_id]
            # The latest request's view of the workspace (plan, budgets) and time.
            group_ctx = jobs[positions[-1]][0]
            items = [
                Prepared(n, jobs[p][1].record, jobs[p][1].row) for n, p in enumerate(positions)
            ]
            outcomes, base = await self._store(session, group_ctx, items)
            for n, position in enumerate(positions):
                ctx, item = jobs[position]
                outcome = outcomes[n]
                outcome.index = item.index
                answers[position] = (outcome, _request_state(ctx, [item], [outcome], base))
        return [answer for answer in answers if answer is not None]

    async def ingest_batch(
        self, session: AsyncSession, ctx: IngestContext, payload: Any
    ) -> dict[str, Any]:
        items = _batch_items(payload, ctx.settings.max_batch_records)
        await self._rate_limit(ctx, len(items))
        outcomes: list[Outcome] = []
        valid: list[tuple[int, Record]] = []
        for index, item in enumerate(items):
            parsed = parse_record(item, ("requests", index))
            if isinstance(parsed, list):
                outcomes.append(Outcome(index, _external_id(item), error=ValidationFailed(parsed)))
                continue
            try:
                _check_event_time(parsed, ctx.now)
            except TimestampOutOfRange as exc:
                outcomes.append(Outcome(index, parsed.external_request_id, error=exc))
                continue
            valid.append((index, parsed))
        pricer = await self._pricer(session, ctx)
        prepared = [self._prepare(i, rec, ctx, pricer) for i, rec in valid]
        stored, base = await self._store(session, ctx, prepared)
        state = _request_state(ctx, prepared, stored, base)
        outcomes = sorted(outcomes + stored, key=lambda o: o.index)
        return _batch_body(outcomes, state)

    async def _rate_limit(self, ctx: IngestContext, records: int) -> None:
        p = ctx.principal
        plan = plan_service.plan(ctx.settings, p.plan_tier)
        decision = await limits_service.check(ctx.limiter, p.workspace_id, plan, records)
        ctx.response_headers.update(decision.headers())

    async def _pricer(self, session: AsyncSession, ctx: IngestContext) -> Pricer:
        p = ctx.principal
        return await pricing_service.pricer(
            session, ctx.catalog, p, p.workspace_id, p.pricing_version
        )

    def _prepare(self, index: int, rec: Record, ctx: IngestContext, pricer: Pricer) -> Prepared:
        p = ctx.principal
        data_mode = (
            ctx.forced_data_mode or rec.data_mode or ("test" if p.key_mode == "test" else "real")
        )
        created_at = rec.created_at or ctx.now
        price = pricer.price(
            rec.provider,
            rec.model,
            created_at,
            TokenUsage(
                rec.input_tokens,
                rec.output_tokens,
                rec.cached_input_tokens or 0,
                rec.reasoning_tokens or 0,
            ),
        )
        # Precedence: workspace > API key > request (headers named by the operator over body).
        metadata = {**rec.metadata, **ctx.header_metadata, **p.key_metadata, **p.workspace_metadata}
        row = {
            "provider": rec.provider,
            "model": rec.model,
            "status": rec.status,
            "error_code": rec.error_code,
            "input_tokens": rec.input_tokens,
            "output_tokens": rec.output_tokens,
            "total_tokens": rec.total_tokens,
            "cached_input_tokens": rec.cached_input_tokens,
            "reasoning_tokens": rec.reasoning_tokens,
            "latency_ms": rec.latency_ms,
            "prompt_version": rec.prompt_version,
            "endpoint_tag": rec.endpoint_tag,
            "user_id": rec.user_id,
            "tenant_id": rec.tenant_id,
            "feature_tag": rec.feature_tag,
            "data_mode": data_mode,
            "environment": rec.environment,
            "metadata": metadata,
            "cost_nano_usd": price.cost.nano_usd,
            "pricing_status": price.status,
            "price_snapshot": price.cost.snapshot or None,
            "api_key_id": p.api_key_id,
            "updated_at": ctx.now,
            "fingerprint": _fingerprint(rec, data_mode),
            "created_at": created_at,
            "received_at": ctx.now,
        }
        return Prepared(index, rec, row)

    async def _store(
        self, session: AsyncSession, ctx: IngestContext, prepared: list[Prepared]
    ) -> tuple[list[Outcome], dict[str, Any]]:
        blocked = await self._budget_blocks(session, ctx)
        batch, usage = await self._insert(session, ctx, prepared, count=not blocked)
        if usage is not None:  # every record new, counted by the insert within the quota
            refused: set[str] = set()
            settled, scoped, state = Settled(), set[str](), _state(ctx, usage)
        else:
            repeats = [item for item in prepared if not batch.is_new(item)]
            settled = await self._settle_repeats(session, ctx, repeats, batch.inserted)
            scoped = _scoped_blocked(ctx, batch)
            refused, state = await self._admit(session, ctx, batch, settled, blocked, scoped)
        refusal: AppError = (
            BudgetExceeded(extra=state) if blocked else PlanLimitReached(extra=state)
        )
        outcomes = []
        for item in prepared:
            ext = item.record.external_request_id
            if ext in refused:
                error = BudgetExceeded(extra=state) if ext in scoped else refusal
                outcome = Outcome(item.index, ext, error=error)
            elif batch.is_new(item):
                outcome = Outcome(
                    item.index,
                    ext,
                    str(batch.ids[ext]),
                    cost_nano_usd=item.row["cost_nano_usd"],
                    pricing_status=item.row["pricing_status"],
                )
            else:
                outcome = settled.outcomes[item.index]
            outcome.warnings = _warnings(item.record, outcome.pricing_status)
            outcomes.append(outcome)
        return outcomes, state

    async def _insert(
        self, session: AsyncSession, ctx: IngestContext, prepared: list[Prepared], *, count: bool
    ) -> tuple[Inserted, Usage | None]:
        """Inserts the first record of each id. With `count` (and where it can), the insert
        also counts its calls, and the usage is returned when that was the whole job: every
        record new and within the quota; otherwise what it counted is taken back, for `_admit`
        to count call by call."""
        p = ctx.principal
        batch = Inserted()
        for item in prepared:
            batch.first.setdefault(item.record.external_request_id, item)
        # Sorted inserts: two batches sharing ids take their index locks in the same order.
        rows = [
            {
                **item.row,
                "id": new_id(),
                "workspace_id": p.workspace_id,
                "external_request_id": ext,
                "attempts": 1,
            }
            for ext, item in sorted(batch.first.items())
        ]
        batch.ids = {r["external_request_id"]: r["id"] for r in rows}
        plan = plan_service.plan(ctx.settings, p.plan_tier)
        if count and self._counts_in_insert(session, ctx, plan, len(rows)):
            return batch, await self._insert_counted(session, ctx, plan, prepared, batch, rows)
        batch.inserted = await llm_request_repository.insert_new(session, rows)
        return batch, None

    async def _insert_counted(
        self,
        session: AsyncSession,
        ctx: IngestContext,
        plan: Plan,
        prepared: list[Prepared],
        batch: Inserted,
        rows: list[dict[str, Any]],
    ) -> Usage | None:
        """Inserts and counts in one statement; the usage when that was the whole job, else
        None, with the count taken back."""
        p = ctx.principal
        target = plan_service.counter_target(plan, p.workspace_id, p.time_zone, ctx.now)
        batch.inserted, counted = await llm_request_repository.insert_new_counted(
            session, rows, target
        )
        if not counted:
            return None
        usage = plan_service.counted_usage(p.time_zone, ctx.now, counted)
        if usage is not None and all(batch.is_new(item) for item in prepared):
            return usage
        new_costs = [r["cost_nano_usd"] for r in rows if r["external_request_id"] in batch.inserted]
        await plan_service.uncount(
            session,
            p.workspace_id,
            p.time_zone,
            ctx.now,
            list(counted),
            len(new_costs),
            sum(new_costs),
        )
        return None

    @staticmethod
    def _counts_in_insert(session: AsyncSession, ctx: IngestContext, plan: Plan, rows: int) -> bool:
        """PostgreSQL, a short insert, no more calls than the quota, and no scoped budget that
        could refuse some of them: then the insert may count its calls itself."""
        return (
            is_postgresql(session)
            and rows < COPY_FROM_ROWS
            and (plan.monthly_requests is None or rows <= plan.monthly_requests)
            and not _hard_stops(ctx)
        )

    async def _admit(
        self,
        session: AsyncSession,
        ctx: IngestContext,
        batch: Inserted,
        settled: Settled,
        blocked: bool,
        scoped: set[str],
    ) -> tuple[set[str], dict[str, Any]]:
        """Counts the new calls against the quota, first come first served, each at its final
        cost (a retry in the same batch may have replaced it); deletes those refused. `scoped`:
        new calls a scoped hard-stop budget refuses; they are never counted."""
        p = ctx.principal
        candidates = [ext for ext, item in batch.first.items() if batch.is_new(item)]
        new = [ext for ext in candidates if ext not in scoped]  # arrival order
        costs = [settled.final_cost.get(e, batch.first[e].row["cost_nano_usd"]) for e in new]
        admission = await plan_service.admit(
            session,
            plan_service.plan(ctx.settings, p.plan_tier),
            workspace_id=p.workspace_id,
            time_zone=p.time_zone,
            now=ctx.now,
            new_costs=[] if blocked else costs,
            cost_delta=settled.cost_delta,
        )
        refused = set(new if blocked else new[admission.admitted :]) | scoped
        if refused:
            await llm_request_repository.delete(session, p, [batch.ids[e] for e in refused])
        return refused, _state(ctx, admission.usage)

    async def _budget_blocks(self, session: AsyncSession, ctx: IngestContext) -> bool:
        """Under hard_stop, a workspace whose budget is already spent takes no new calls.
        Checked before storing; the call that crosses the limit is still accepted."""
        p = ctx.principal
        if not p.budget.can_block:
            return False
        usage = await plan_service.usage(session, p.workspace_id, p.time_zone, ctx.now)
        return budget_service.state(p.budget, usage).blocks_new_calls

    async def _settle_repeats(
        self, session: AsyncSession, ctx: IngestContext, repeats: list[Prepared], inserted: set[str]
    ) -> Settled:
        """A repeated id: identical → nothing; changed → a stored error yields to the new report,
        a stored success is final. The row stays counted once either way."""
        settled = Settled()
        if not repeats:
            return settled
        p = ctx.principal
        existing = await llm_request_repository.lock_existing(
            session, p, [item.record.external_request_id for item in repeats]
        )
        original_cost = {ext: row.cost_nano_usd for ext, row in existing.items()}
        for item in repeats:
            ext = item.record.external_request_id
            stored = existing.get(ext)
            if stored is None:
                # Deleted between our insert attempt and the lock: rare; the client retries.
                raise Unavailable("The record changed concurrently; retry.", retry_after=1)
            updated = stored.fingerprint != item.row["fingerprint"] and stored.status == "error"
            if updated:
                stored = await self._replace(session, ctx, stored, item)
                existing[ext] = stored
            settled.outcomes[item.index] = Outcome(
                item.index,
                ext,
                str(stored.id),
                deduplicated=True,
                updated=updated,
                cost_nano_usd=stored.cost_nano_usd,
                pricing_status=stored.pricing_status,
            )
        for ext, row in existing.items():
            if ext in inserted:
                settled.final_cost[ext] = row.cost_nano_usd
            else:
                settled.cost_delta += row.cost_nano_usd - original_cost[ext]
        return settled

    async def _replace(
        self, session: AsyncSession, ctx: IngestContext, stored: StoredCall, item: Prepared
    ) -> StoredCall:
        values = {**item.row, "attempts": stored.attempts + 1}
        await llm_request_repository.replace(session, ctx.principal, stored.id, values)
        return StoredCall(
            id=stored.id,
            status=item.row["status"],
            fingerprint=item.row["fingerprint"],
            cost_nano_usd=item.row["cost_nano_usd"],
            pricing_status=item.row["pricing_status"],
            attempts=stored.attempts + 1,
        )


def _state(ctx: IngestContext, usage: Usage) -> dict[str, Any]:
    """The workspace's plan and budget fields of an answer."""
    p = ctx.principal
    return {
        **plan_service.state(ctx.settings, p.plan_tier, usage).ingest_fields(),
        **budget_service.state(p.budget, usage).ingest_fields(),
    }


def _hard_stops(ctx: IngestContext) -> list[ScopedBudget]:
    """The scoped budgets that are spent and set to hard_stop: they refuse new calls."""
    return [b for b in ctx.principal.scoped_budgets if b.state == "critical" and b.hard_stop]


def _scoped_blocked(ctx: IngestContext, batch: Inserted) -> set[str]:
    """New calls inside a scoped budget that is spent and set to hard_stop."""
    stops = _hard_stops(ctx)
    if not stops:
        return set()
    return {
        ext
        for ext, item in batch.first.items()
        if batch.is_new(item) and any(b.matches(item.row) for b in stops)
    }


def _request_state(
    ctx: IngestContext, prepared: list[Prepared], outcomes: list[Outcome], base: dict[str, Any]
) -> dict[str, Any]:
    """The plan and budget fields one request is answered with: the workspace's, plus
    budgetWarning / budgetExceeded of the scoped budgets its records fall in. Refusals carry
    the same fields."""
    state = dict(base)
    for budget in ctx.principal.scoped_budgets:
        if any(budget.matches(item.row) for item in prepared):
            state["budgetWarning"] = True
            if budget.state == "critical":
                state["budgetExceeded"] = True
    for outcome in outcomes:
        if isinstance(outcome.error, BudgetExceeded | PlanLimitReached):
            outcome.error = type(outcome.error)(outcome.error.message, extra=state)
    return state


def _check_event_time(rec: Record, now: datetime) -> None:
    at = rec.created_at
    if at is not None and not (now - MAX_PAST <= at <= now + MAX_FUTURE):
        raise TimestampOutOfRange(
            f"createdAt {at.isoformat()} is outside [now − 30 days, now + 5 minutes]."
        )


def _fingerprint(rec: Record, data_mode: str) -> bytes:
    """Identity of what the client reported (not of server-side defaults or headers)."""
    body = {
        "provider": rec.provider,
        "model": rec.model,
        "status": rec.status,
        "errorCode": rec.error_code,
        "tokens": [
            rec.input_tokens,
            rec.output_tokens,
            rec.total_tokens,
            rec.cached_input_tokens,
            rec.reasoning_tokens,
        ],
        "latencyMs": rec.latency_ms,
        "labels": [
            rec.prompt_version,
            rec.endpoint_tag,
            rec.user_id,
            rec.tenant_id,
            rec.feature_tag,
        ],
        "dataMode": data_mode,
        "environment": rec.environment,
        "createdAt": rec.created_at.isoformat() if rec.created_at else None,
        "metadata": rec.metadata,
    }
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).digest()


def _warnings(rec: Record, pricing_status: str | None) -> list[str]:
    warnings = list(rec.warnings)
    if pricing_status == "unknown":
        warnings.insert(0, UNKNOWN_MODEL)
    return warnings


def _external_id(item: Any) -> str | None:
    value = item.get("externalRequestId") if isinstance(item, dict) else None
    return value if isinstance(value, str) else None


def _batch_items(payload: Any, limit: int) -> list[Any]:
    if not isinstance(payload, dict) or "requests" not in payload:
        raise ValidationFailed([FieldError(["requests"], "required: a list of records", "missing")])
    items = payload["requests"]
    if not isinstance(items, list):
        raise ValidationFailed([FieldError(["requests"], "must be a list of records", "list_type")])
    if not 1 <= len(items) <= limit:
        raise ValidationFailed(
            [FieldError(["requests"], f"must hold 1 to {limit} records", "too_long")]
        )
    return items


def _outcome_fields(o: Outcome) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "ok": True,
        "requestId": o.request_id,
        "externalRequestId": o.external_request_id,
        "deduplicated": o.deduplicated,
    }
    if o.deduplicated:
        fields["updated"] = o.updated
    fields["costUsd"] = nano_to_usd(o.cost_nano_usd or 0)
    fields["pricingStatus"] = o.pricing_status
    fields["warnings"] = o.warnings
    return fields


def _item_result(o: Outcome) -> dict[str, Any]:
    if o.error is None:
        return {"index": o.index, **_outcome_fields(o), "reason": None, "errors": None}
    errors = o.error.extra.get("errors") if isinstance(o.error, ValidationFailed) else None
    return {
        "index": o.index,
        "ok": False,
        "requestId": None,
        "externalRequestId": o.external_request_id,
        "deduplicated": False,
        "reason": o.error.reason,
        "message": o.error.message,
        "errors": errors,
    }


def _batch_body(outcomes: list[Outcome], state: dict[str, Any]) -> dict[str, Any]:
    results = [_item_result(o) for o in outcomes]
    accepted = sum(1 for o in outcomes if o.error is None)
    return {
        "ok": True,
        "accepted": accepted,
        "deduplicated": sum(1 for o in outcomes if o.error is None and o.deduplicated),
        "rejected": len(outcomes) - accepted,
        "results": results,
        **state,
        "reason": None,
    }


ingest_service = IngestService()

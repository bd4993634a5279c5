"""Budgets: daily and monthly spend limits per workspace, a warning ratio, and a policy
(`observe` flags only; `hard_stop` refuses new calls with 402 once a limit is reached)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from llmmeter.budget.config import BudgetConfig
from llmmeter.plan.repository import Counts
from llmmeter.plan.service import Period, Usage

NANO = Decimal(1_000_000_000)


@dataclass(frozen=True, slots=True)
class PeriodBudget:
    name: str  # daily | monthly
    limit_usd: Decimal | None
    spend_nano_usd: int
    warning_ratio: Decimal
    period: Period

    @property
    def spend_usd(self) -> Decimal:
        return Decimal(self.spend_nano_usd) / NANO

    @property
    def utilization(self) -> Decimal | None:
        if self.limit_usd is None:
            return None
        if self.limit_usd == 0:
            return Decimal(1) if self.spend_nano_usd else Decimal(0)
        return self.spend_usd / self.limit_usd

    @property
    def is_exceeded(self) -> bool:
        return self.limit_usd is not None and self.spend_usd >= self.limit_usd

    @property
    def is_warning(self) -> bool:
        return self.limit_usd is not None and self.spend_usd >= self.limit_usd * self.warning_ratio

    def body(self) -> dict[str, Any]:
        utilization = self.utilization
        return {
            "limitUsd": float(self.limit_usd) if self.limit_usd is not None else None,
            "currentSpendUsd": float(self.spend_usd),
            "utilizationRatio": float(utilization) if utilization is not None else None,
            "isWarning": self.is_warning,
            "isExceeded": self.is_exceeded,
            "period": self.name,
            "periodStart": iso_utc(self.period.start),
            "periodEnd": iso_utc(self.period.last_second),
        }


@dataclass(frozen=True, slots=True)
class BudgetState:
    config: BudgetConfig
    daily: PeriodBudget
    monthly: PeriodBudget

    @property
    def is_warning(self) -> bool:
        return self.daily.is_warning or self.monthly.is_warning

    @property
    def is_exceeded(self) -> bool:
        return self.daily.is_exceeded or self.monthly.is_exceeded

    @property
    def blocks_new_calls(self) -> bool:
        return self.config.can_block and self.is_exceeded

    def ingest_fields(self) -> dict[str, Any]:
        return {"budgetWarning": self.is_warning, "budgetExceeded": self.is_exceeded}

    def body(self) -> dict[str, Any]:
        return {
            "warningThresholdRatio": float(self.config.warning_ratio),
            "daily": self.daily.body(),
            "monthly": self.monthly.body(),
        }


def iso_utc(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z"))


class BudgetService:
    def state(self, config: BudgetConfig, usage: Usage) -> BudgetState:
        return BudgetState(
            config,
            self._period("daily", config.daily_usd, usage.day_counts, config, usage.day),
            self._period("monthly", config.monthly_usd, usage.month_counts, config, usage.month),
        )

    def _period(
        self, name: str, limit: Decimal | None, counts: Counts, config: BudgetConfig, period: Period
    ) -> PeriodBudget:
        return PeriodBudget(name, limit, counts.cost_nano_usd, config.warning_ratio, period)


budget_service = BudgetService()

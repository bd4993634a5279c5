from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class BudgetPolicy(StrEnum):
    observe = "observe"
    hard_stop = "hard_stop"


@dataclass(frozen=True, slots=True)
class BudgetConfig:
    daily_usd: Decimal | None = None
    monthly_usd: Decimal | None = None
    warning_ratio: Decimal = Decimal("0.8")
    policy: str = BudgetPolicy.observe.value

    @property
    def can_block(self) -> bool:
        has_limit = self.daily_usd is not None or self.monthly_usd is not None
        return self.policy == BudgetPolicy.hard_stop and has_limit

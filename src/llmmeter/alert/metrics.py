"""What an alert rule can watch, and how each value is computed from the analytics query
service (so alerts read the same numbers as the dashboard, rollups included when they come)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from llmmeter.analytics.filters import Filters
from llmmeter.analytics.service import Overview
from llmmeter.plan.service import Period, day_of, month_of


class Metric(StrEnum):
    budget_daily = "budget_daily"
    budget_monthly = "budget_monthly"
    cost_rate = "cost_rate"
    request_count = "request_count"
    error_rate = "error_rate"
    rate_limit_rate = "rate_limit_rate"
    latency_p50 = "latency_p50"
    latency_p95 = "latency_p95"
    latency_p99 = "latency_p99"
    tokens_per_minute = "tokens_per_minute"
    unknown_model_rows = "unknown_model_rows"
    spend_per_request = "spend_per_request"

    @property
    def is_budget(self) -> bool:
        return self in (Metric.budget_daily, Metric.budget_monthly)


@dataclass(frozen=True, slots=True)
class MetricInfo:
    label: str
    unit: str  # usd, usd_per_hour, count, ratio, ms, tokens_per_minute


METRICS: dict[Metric, MetricInfo] = {
    Metric.budget_daily: MetricInfo("Spend today vs daily budget", "usd"),
    Metric.budget_monthly: MetricInfo("Spend this month vs monthly budget", "usd"),
    Metric.cost_rate: MetricInfo("Cost rate", "usd_per_hour"),
    Metric.request_count: MetricInfo("Requests", "count"),
    Metric.error_rate: MetricInfo("Error rate", "ratio"),
    Metric.rate_limit_rate: MetricInfo("Provider rate-limit rate (429s)", "ratio"),
    Metric.latency_p50: MetricInfo("Latency p50", "ms"),
    Metric.latency_p95: MetricInfo("Latency p95", "ms"),
    Metric.latency_p99: MetricInfo("Latency p99", "ms"),
    Metric.tokens_per_minute: MetricInfo("Tokens per minute", "tokens_per_minute"),
    Metric.unknown_model_rows: MetricInfo("Unknown-model rows", "count"),
    Metric.spend_per_request: MetricInfo("Spend per request", "usd"),
}


def budget_period(metric: Metric, now: datetime, time_zone: str) -> Period:
    return day_of(now, time_zone) if metric is Metric.budget_daily else month_of(now, time_zone)


def window(
    metric: Metric, now: datetime, seconds: int, time_zone: str
) -> tuple[datetime, datetime]:
    """Budgets look at their calendar period so far; everything else at the last `seconds`."""
    if metric.is_budget:
        return budget_period(metric, now, time_zone).start, now
    return now - timedelta(seconds=seconds), now


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def value_of(metric: Metric, o: Overview, f: Filters) -> Decimal | None:
    """None when there is nothing to judge (no requests for a ratio, no latencies)."""
    minutes = f.span.total_seconds() / 60
    raw: float | int | None
    match metric:
        case Metric.budget_daily | Metric.budget_monthly:
            raw = o.cost_usd
        case Metric.cost_rate:
            raw = o.cost_usd / (minutes / 60)
        case Metric.request_count:
            raw = o.requests
        case Metric.error_rate:
            raw = _ratio(o.errors, o.requests)
        case Metric.rate_limit_rate:
            raw = _ratio(o.rate_limited, o.requests)
        case Metric.latency_p50:
            raw = o.p50_ms
        case Metric.latency_p95:
            raw = o.p95_ms
        case Metric.latency_p99:
            raw = o.p99_ms
        case Metric.tokens_per_minute:
            raw = o.total_tokens / minutes
        case Metric.unknown_model_rows:
            raw = o.unknown_model_rows
        case Metric.spend_per_request:
            raw = _ratio(o.cost_usd, o.requests)
    return None if raw is None else Decimal(str(round(raw, 9)))


def format_value(metric: Metric, value: Decimal | float | None) -> str:
    if value is None:
        return "no data"
    v = float(value)
    match METRICS[metric].unit:
        case "usd":
            return f"${v:,.4f}" if v < 1 else f"${v:,.2f}"
        case "usd_per_hour":
            return f"${v:,.4f}/h"
        case "ratio":
            return f"{v * 100:.1f}%"
        case "ms":
            return f"{v:,.0f} ms"
        case "tokens_per_minute":
            return f"{v:,.0f} tokens/min"
    return f"{v:,.0f}"

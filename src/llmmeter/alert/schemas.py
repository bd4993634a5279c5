"""Alert rule and channel forms, validated into what the service stores."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from llmmeter.alert.channels import ChannelKind
from llmmeter.alert.metrics import Metric
from llmmeter.kit.errors import FieldError, ValidationFailed

SCOPES = ("workspace", "endpoint_tag", "prompt_version", "model", "user", "metadata")
DELIVERIES = ("immediate", "daily", "weekly")
MIN_WINDOW = 300
MAX_WINDOW = 30 * 86400
_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|h|d)\s*$")
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int | None:
    """`5m`, `1h`, `30d` → seconds."""
    match = _DURATION.match(text.lower())
    if not match:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


def describe_duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds // 60}m"


def _decimal(text: str, name: str, errors: list[FieldError]) -> Decimal | None:
    text = text.strip().rstrip("%")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors.append(FieldError([name], "enter a number"))
        return None
    if not value.is_finite() or value < 0:
        errors.append(FieldError([name], "enter a non-negative number"))
        return None
    return value


@dataclass(slots=True)
class RuleInput:
    name: str
    metric: Metric
    scope_kind: str
    scope_key: str | None
    scope_value: str | None
    data_mode: str | None
    environment: str | None
    window_seconds: int
    warning: Decimal | None
    critical: Decimal | None
    budget_limit_usd: Decimal | None
    hard_stop: bool
    cooldown_seconds: int
    delivery: str
    channel_ids: list[uuid.UUID] = field(default_factory=list)
    enabled: bool = True


def parse_rule(form: dict[str, str], channel_ids: list[str]) -> RuleInput:
    errors: list[FieldError] = []
    name = form.get("name", "").strip()
    if not 1 <= len(name) <= 128:
        errors.append(FieldError(["name"], "1 to 128 characters"))
    try:
        metric = Metric(form.get("metric", ""))
    except ValueError:
        errors.append(FieldError(["metric"], "choose a metric"))
        metric = Metric.request_count
    scope_kind = form.get("scope_kind", "workspace")
    if scope_kind not in SCOPES:
        errors.append(FieldError(["scope_kind"], "choose a scope"))
    scope_key = form.get("scope_key", "").strip() or None
    scope_value = form.get("scope_value", "").strip() or None
    if scope_kind != "workspace" and not scope_value:
        errors.append(FieldError(["scope_value"], "a scoped rule needs the value it watches"))
    if scope_kind == "metadata" and not scope_key:
        errors.append(FieldError(["scope_key"], "which metadata key"))
    if (scope_key and len(scope_key) > 64) or (scope_value and len(scope_value) > 128):
        errors.append(FieldError(["scope_value"], "keys up to 64 characters, values up to 128"))
    window = parse_duration(form.get("window", "1h"))
    if metric.is_budget:
        window = window or 86400
    elif window is None or not MIN_WINDOW <= window <= MAX_WINDOW:
        errors.append(FieldError(["window"], "from 5m to 30d, written like 5m, 1h or 7d"))
    cooldown = parse_duration(form.get("cooldown", "5m") or "5m")
    if cooldown is None or cooldown > 7 * 86400:
        errors.append(FieldError(["cooldown"], "up to 7d, written like 5m or 1h"))
    delivery = form.get("delivery", "immediate")
    if delivery not in DELIVERIES:
        errors.append(FieldError(["delivery"], "immediate, daily or weekly"))
    warning = _decimal(form.get("warning", ""), "warning", errors)
    critical = _decimal(form.get("critical", ""), "critical", errors)
    limit = _decimal(form.get("budget_limit_usd", ""), "budget_limit_usd", errors)
    if metric.is_budget:
        if limit is None:
            errors.append(FieldError(["budget_limit_usd"], "a budget rule needs a limit in USD"))
        ratio = _decimal(form.get("warning_ratio", "0.8") or "0.8", "warning_ratio", errors)
        if ratio is not None and ratio > 1:
            ratio = ratio / 100
        if limit is not None and ratio is not None:
            warning, critical = (limit * ratio).quantize(Decimal("0.000000001")), limit
    elif warning is None and critical is None:
        errors.append(FieldError(["critical"], "set a warning or a critical threshold"))
    elif warning is not None and critical is not None and warning > critical:
        errors.append(FieldError(["warning"], "the warning threshold must not exceed the critical"))
    if metric in (Metric.error_rate, Metric.rate_limit_rate):
        warning, critical = (_as_ratio(warning), _as_ratio(critical))
    ids = []
    for raw in channel_ids:
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            errors.append(FieldError(["channels"], "unknown channel"))
    if errors:
        raise ValidationFailed(errors)
    return RuleInput(
        name=name,
        metric=metric,
        scope_kind=scope_kind,
        scope_key=scope_key if scope_kind == "metadata" else None,
        scope_value=scope_value if scope_kind != "workspace" else None,
        data_mode=(form.get("data_mode") or None) if form.get("data_mode") != "all" else None,
        environment=form.get("environment") or None,
        window_seconds=window or 86400,
        warning=warning,
        critical=critical,
        budget_limit_usd=limit if metric.is_budget else None,
        hard_stop=metric.is_budget and form.get("hard_stop") in ("on", "true", "1"),
        cooldown_seconds=cooldown or 300,
        delivery=delivery,
        channel_ids=ids,
        enabled=form.get("enabled", "off") in ("on", "true", "1"),
    )


def _as_ratio(value: Decimal | None) -> Decimal | None:
    """Error rates may be typed as 5 (percent) or 0.05."""
    if value is None:
        return None
    return value / 100 if value > 1 else value


@dataclass(slots=True)
class ChannelInput:
    kind: ChannelKind
    name: str
    target: str  # URL, routing key or address


def parse_channel(form: dict[str, str]) -> ChannelInput:
    errors: list[FieldError] = []
    try:
        kind = ChannelKind(form.get("kind", ""))
    except ValueError:
        raise ValidationFailed(
            [FieldError(["kind"], "webhook, slack, pagerduty or email")]
        ) from None
    name = form.get("name", "").strip() or kind.value
    target = form.get("target", "").strip()
    if kind in (ChannelKind.webhook, ChannelKind.slack):
        if not re.match(r"^https?://[^\s/]+", target) or len(target) > 2048:
            errors.append(FieldError(["target"], "an http(s) URL"))
    elif kind is ChannelKind.pagerduty:
        if not re.fullmatch(r"[A-Za-z0-9]{20,64}", target):
            errors.append(FieldError(["target"], "the 32-character integration (routing) key"))
    elif not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", target):
        errors.append(FieldError(["target"], "an email address"))
    if len(name) > 128:
        errors.append(FieldError(["name"], "up to 128 characters"))
    if errors:
        raise ValidationFailed(errors)
    return ChannelInput(kind, name, target)

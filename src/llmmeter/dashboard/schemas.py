"""The dashboard's URL: every filter is a query parameter, so a view can be bookmarked and
shared. Unknown or malformed values fall back to defaults instead of failing the page."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from llmmeter.analytics.filters import Dimension, Filters, SortKey
from llmmeter.kit.errors import FieldError, ValidationFailed

RANGES: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
MODES = ("real", "test", "demo", "all")
MAX_CUSTOM_SPAN = timedelta(days=400)
FILTER_PARAMS = ("env", "tag", "version", "model", "provider", "user")
_DRILL = {
    "endpoint_tag": "tag",
    "prompt_version": "version",
    "model": "model",
    "provider": "provider",
    "user": "user",
    "environment": "env",
}
_FIELDS = {
    "env": "environment",
    "tag": "endpoint_tag",
    "version": "prompt_version",
    "model": "model",
    "provider": "provider",
    "user": "user",
}


@dataclass(frozen=True, slots=True)
class View:
    """The parsed URL: the analytics filters plus what the page needs to redraw its controls."""

    filters: Filters
    range: str
    mode: str
    values: dict[str, str]
    meta: list[tuple[str, str]]
    custom_from: str = ""
    custom_to: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def params(self, **changes: str | None) -> list[tuple[str, str]]:
        base: dict[str, str | None] = {"range": self.range, "mode": self.mode}
        if self.range == "custom":
            base.update({"from": self.custom_from, "to": self.custom_to})
        base.update(self.values)
        base.update(self.extra)
        base.update(changes)
        pairs = [(k, v) for k, v in base.items() if v]
        pairs += [("meta", f"{k}={v}") for k, v in self.meta]
        return pairs

    def query(self, **changes: str | None) -> str:
        return urlencode(self.params(**changes))

    def _with_meta(self, meta: list[tuple[str, str]]) -> str:
        return replace(self, meta=meta).query()

    def without(self, name: str, meta: tuple[str, str] | None = None) -> str:
        """The same view with one filter taken off (the chips' × links)."""
        if meta is not None:
            return self._with_meta([m for m in self.meta if m != meta])
        return self.query(**{name: None})

    def drill(self, dimension: str, value: str, meta_key: str = "") -> str:
        """The same view narrowed to one value of a breakdown row."""
        if dimension == "metadata" and meta_key:
            return self._with_meta([*self.meta, (meta_key, value)])
        param = _DRILL.get(dimension)
        return self.query(**{param: value}) if param else self.query()


def _parse_time(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationFailed(
            [FieldError([name], "use a date and time like 2026-11-24T09:00")]
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _window(params: QueryParams, range_: str, now: datetime) -> tuple[datetime, datetime]:
    if range_ != "custom":
        end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        return end - RANGES[range_], end
    start = _parse_time(params.get("from", ""), "from")
    end = _parse_time(params.get("to", ""), "to") if params.get("to") else now
    if end <= start or end - start > MAX_CUSTOM_SPAN:
        raise ValidationFailed(
            [FieldError(["to"], "the end must follow the start, at most 400 days later")]
        )
    return start, end


def parse_view(params: QueryParams, now: datetime, extra: tuple[str, ...] = ()) -> View:
    range_ = params.get("range", "24h")
    if range_ not in RANGES and range_ != "custom":
        range_ = "24h"
    mode = params.get("mode", "real")
    mode = mode if mode in MODES else "real"
    start, end = _window(params, range_, now)
    values = {k: v.strip()[:128] for k in FILTER_PARAMS if (v := params.get(k, "")).strip()}
    meta = []
    for item in params.getlist("meta")[:10]:
        key, sep, value = item.partition("=")
        if sep and key.strip():
            meta.append((key.strip()[:64], value.strip()[:128]))
    labels: dict[str, Any] = {_FIELDS[k]: v for k, v in values.items()}
    filters = Filters(
        start=start,
        end=end,
        data_mode=None if mode == "all" else mode,
        metadata=tuple(meta),
        **labels,
    )
    return View(
        filters=filters,
        range=range_,
        mode=mode,
        values=values,
        meta=meta,
        custom_from=params.get("from", "") if range_ == "custom" else "",
        custom_to=params.get("to", "") if range_ == "custom" else "",
        extra={k: v for k in extra if (v := params.get(k, ""))},
    )


def parse_dimension(value: str | None, default: Dimension = Dimension.endpoint_tag) -> Dimension:
    try:
        return Dimension(value) if value else default
    except ValueError:
        return default


def parse_sort(value: str | None) -> SortKey:
    try:
        return SortKey(value) if value else SortKey.cost
    except ValueError:
        return SortKey.cost

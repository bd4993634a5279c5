"""What a dashboard view asks for: a time window and filters, shared by every analytics query
and carried in the page URL so that a view can be shared."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum


class Dimension(StrEnum):
    endpoint_tag = "endpoint_tag"
    prompt_version = "prompt_version"
    model = "model"
    provider = "provider"
    user = "user"
    tenant = "tenant"
    environment = "environment"
    metadata = "metadata"


DIMENSION_LABELS: dict[Dimension, str] = {
    Dimension.endpoint_tag: "Endpoint tag",
    Dimension.prompt_version: "Prompt version",
    Dimension.model: "Model",
    Dimension.provider: "Provider",
    Dimension.user: "User",
    Dimension.tenant: "Tenant",
    Dimension.environment: "Environment",
    Dimension.metadata: "Metadata key",
}


class SortKey(StrEnum):
    cost = "cost"
    requests = "requests"
    avg_tokens = "avg_tokens"
    avg_latency = "avg_latency"
    error_rate = "error_rate"
    cost_per_request = "cost_per_request"
    last_seen = "last_seen"
    value = "value"


@dataclass(frozen=True, slots=True)
class Filters:
    start: datetime
    end: datetime
    data_mode: str | None = "real"  # None: every mode
    environment: str | None = None
    endpoint_tag: str | None = None
    prompt_version: str | None = None
    model: str | None = None
    provider: str | None = None
    user: str | None = None
    metadata: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # Set by the service when rollups answer the rest: the raw rows to read instead of
    # [start, end) (the partial hours at the edges).
    ranges: tuple[tuple[datetime, datetime], ...] | None = None

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def previous(self) -> Filters:
        """The window of the same length just before this one."""
        return replace(self, start=self.start - self.span, end=self.start, ranges=None)


def bucket_seconds(span: timedelta) -> int:
    """Chart resolution: enough points to show a shape, few enough to stay readable."""
    if span <= timedelta(hours=6):
        return 300
    if span <= timedelta(days=3):
        return 3600
    if span <= timedelta(days=14):
        return 6 * 3600
    return 86400

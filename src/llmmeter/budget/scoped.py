"""Budgets for part of a workspace (one endpoint tag, prompt version, model, user or
metadata value), kept as alert rules. The alert worker writes the ones in warning or critical
onto the workspace row; ingest reads them with the API key and applies them per record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class ScopedBudget:
    rule_id: str
    kind: str  # workspace | endpoint_tag | prompt_version | model | user | metadata
    key: str | None
    value: str | None
    data_mode: str | None
    environment: str | None
    state: str  # warning | critical
    hard_stop: bool
    until: datetime  # the end of the budget period: the state lapses with it

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "kind": self.kind,
            "key": self.key,
            "value": self.value,
            "dataMode": self.data_mode,
            "environment": self.environment,
            "state": self.state,
            "hardStop": self.hard_stop,
            "until": self.until.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScopedBudget:
        return cls(
            rule_id=str(data["rule"]),
            kind=str(data["kind"]),
            key=data.get("key"),
            value=data.get("value"),
            data_mode=data.get("dataMode"),
            environment=data.get("environment"),
            state=str(data["state"]),
            hard_stop=bool(data.get("hardStop")),
            until=datetime.fromisoformat(str(data["until"])),
        )

    def matches(self, row: dict[str, Any]) -> bool:
        """Whether a prepared ingest row falls in this budget's scope."""
        if self.data_mode is not None and row["data_mode"] != self.data_mode:
            return False
        if self.environment is not None and row["environment"] != self.environment:
            return False
        metadata: dict[str, str] = row["metadata"]
        match self.kind:
            case "workspace":
                return True
            case "user":
                return metadata.get("_user") == self.value
            case "metadata":
                return self.key is not None and metadata.get(self.key) == self.value
            case "endpoint_tag" | "prompt_version" | "model":
                return bool(row[self.kind] == self.value)
        return False


def active(entries: list[dict[str, Any]] | None, now: datetime) -> tuple[ScopedBudget, ...]:
    if not entries:
        return ()
    budgets = (ScopedBudget.from_json(e) for e in entries)
    return tuple(b for b in budgets if b.until > now)

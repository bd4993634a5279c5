"""A short-lived, per-process cache of what ingest reads about a key and its workspace.

Ingest authenticates every request; at thousands of requests per second the key lookup is one
of the few round trips left on the hot path. Entries live `api_key_cache_seconds` (1 s by
default). Any change to a key, a workspace or a price override made in this process clears the
cache when it is written and again when it commits (SQLAlchemy session events below, so no
service can forget to); a change made by another worker or replica is seen within the TTL.
Revocation and expiry times are compared with the request's clock on every hit, so an expiry
takes effect exactly when it falls, cached or not.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from llmmeter.models import ApiKey, PriceOverride, Workspace

if TYPE_CHECKING:
    from llmmeter.api_key.repository import IngestKeyRow

# Tables whose rows an IngestKeyRow is read from (price overrides: via pricing_version).
_WATCHED_TABLES = frozenset({"api_keys", "workspaces", "price_overrides"})
_WATCHED_TYPES = (ApiKey, Workspace, PriceOverride)
_DIRTY = "llmmeter.key_cache_dirty"
# An UPDATE that must not clear the cache (the last-used stamp, written once a minute per key).
NEUTRAL = "llmmeter_key_cache_neutral"
_MAX_ENTRIES = 100_000


@dataclass(slots=True)
class _Entry:
    row: IngestKeyRow
    expires: float


class KeyCache:
    def __init__(self) -> None:
        self._entries: dict[bytes, _Entry] = {}

    def get(self, key_hash: bytes) -> IngestKeyRow | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        if entry.expires <= time.monotonic():
            del self._entries[key_hash]
            return None
        return entry.row

    def put(self, key_hash: bytes, row: IngestKeyRow, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            return
        if len(self._entries) >= _MAX_ENTRIES:
            self._entries.clear()
        self._entries[key_hash] = _Entry(row, time.monotonic() + ttl_seconds)

    def clear(self) -> None:
        self._entries.clear()


key_cache = KeyCache()


@event.listens_for(Session, "do_orm_execute")
def _on_statement(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete) or state.execution_options.get(NEUTRAL):
        return
    table: Any = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _WATCHED_TABLES:
        _mark(state.session)


@event.listens_for(Session, "after_flush")
def _on_flush(session: Session, _context: Any) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, _WATCHED_TYPES) for obj in changed):
        _mark(session)


@event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    # Cleared again once committed: a request that refilled the cache from the old row between
    # the write and the commit does not keep it.
    if session.info.pop(_DIRTY, False):
        key_cache.clear()


@event.listens_for(Session, "after_rollback")
def _on_rollback(session: Session) -> None:
    session.info.pop(_DIRTY, None)


def _mark(session: Session) -> None:
    session.info[_DIRTY] = True
    key_cache.clear()

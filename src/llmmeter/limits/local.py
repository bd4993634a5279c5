"""The in-process limiter: the embedded mode's only one, and production's fallback when Redis
does not answer. Each worker holds its own state, so it limits at rate / workers."""

from __future__ import annotations

import threading
import time
import uuid

from llmmeter.limits.gcra import Decision, decide

_PRUNE_AT = 10_000


class LocalLimiter:
    def __init__(self, share: int = 1) -> None:
        self._share = max(1, share)
        self._tat: dict[uuid.UUID, float] = {}
        self._lock = threading.Lock()

    def acquire(self, key: uuid.UUID, rate: float, burst: int, cost: int) -> Decision:
        rate = rate / self._share
        burst = max(1, burst // self._share)
        now = time.monotonic()
        with self._lock:
            if len(self._tat) > _PRUNE_AT:
                self._tat = {k: v for k, v in self._tat.items() if v > now}
            decision, tat = decide(self._tat.get(key, now), now, rate, burst, cost)
            self._tat[key] = tat
        return decision

    def sync(self, key: uuid.UUID, rate: float, burst: int, remaining: int) -> None:
        """Mirrors the shared bucket (as Redis last reported it) in this worker's share, so a
        fallback continues from there instead of granting a fresh burst."""
        used = max(0, burst - remaining)
        with self._lock:
            self._tat[key] = time.monotonic() + used / rate

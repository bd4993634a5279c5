"""GCRA (the generic cell rate algorithm): a token bucket kept as one number per key, the
"theoretical arrival time" (TAT) at which the bucket would be full again.

With emission interval T = 1/rate and tolerance τ = T·burst, a request costing n is admitted when
max(TAT, now) + n·T − now ≤ τ. A request larger than the whole burst is admitted only into a
full bucket (and then waits out its cost), so a batch bigger than the burst is slow, not banned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Clock and float rounding must not refuse a client that paces itself exactly at the rate.
EPSILON_S = 1e-6


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int  # the burst: records that may arrive at once
    remaining: int
    retry_after_s: float  # 0 when allowed
    reset_s: float  # until the bucket is full again

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset_s)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after_s))


def decide(tat: float, now: float, rate: float, burst: int, cost: int) -> tuple[Decision, float]:
    """Returns the decision and the new TAT (unchanged when refused). Times in seconds."""
    interval = 1.0 / rate
    tolerance = interval * burst
    base = max(tat, now)
    new_tat = base + interval * cost
    oversized_into_full_bucket = cost > burst and tat <= now
    if new_tat - now <= tolerance + EPSILON_S or oversized_into_full_bucket:
        remaining = max(0, math.floor((tolerance - (new_tat - now)) / interval))
        return Decision(True, burst, remaining, 0.0, max(0.0, new_tat - now)), new_tat
    wait = (new_tat - tolerance) - now if cost <= burst else base - now
    remaining = max(0, math.floor((tolerance - (base - now)) / interval))
    return Decision(False, burst, remaining, wait, max(0.0, base - now)), tat

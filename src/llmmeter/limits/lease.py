"""Records a worker takes from the shared Redis bucket in advance, so that a busy workspace
costs one Redis round trip per few dozen requests instead of one per request.

A lease is paid for in Redis before any of it is used, so the records admitted across all
workers never exceed what the shared bucket allows. What a lease can cost is the other way:
records one worker holds that another worker could have used. Leases are small to keep that
bounded: at most `window` seconds of the plan's rate (so plans under 1 / window records per
second never lease and stay exact), sized by this worker's recent demand, at most a fraction
of the burst, and unused records go back to Redis with the worker's next call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from llmmeter.limits.gcra import Decision

# A lease is at most this share of the burst per worker, so the other workers always find
# most of the bucket in Redis.
BURST_SHARE = 4


@dataclass(slots=True)
class Lease:
    rate: float
    burst: int
    asked_at: float  # monotonic time of the Redis call that granted it
    tokens: int = 0  # records paid for and not used yet
    used: int = 0  # records admitted since `asked_at`: this worker's demand
    remaining: int = 0  # the shared bucket's remaining after the grant
    reset_s: float = 0.0

    def fits(self, rate: float, burst: int, cost: int, now: float, window: float) -> bool:
        return (
            self.tokens >= cost
            and self.rate == rate
            and self.burst == burst
            and now - self.asked_at < window
        )

    def take(self, cost: int, now: float) -> Decision:
        self.tokens -= cost
        self.used += cost
        elapsed = now - self.asked_at
        refilled = math.floor(elapsed * self.rate)
        remaining = min(self.burst, self.remaining + self.tokens + refilled)
        return Decision(True, self.burst, remaining, 0.0, max(0.0, self.reset_s - elapsed))

    def hand_back(self) -> int:
        """Unused records, to return to Redis with the next call."""
        tokens, self.tokens = self.tokens, 0
        return tokens


def lease_size(
    previous: Lease | None, rate: float, burst: int, cost: int, now: float, window: float
) -> int:
    """Records to ask for on top of `cost`: what this worker used per second since its last
    call, times the window, within the caps. The first call of a workspace asks for none."""
    cap = min(math.floor(rate * window), burst // BURST_SHARE)
    if cap <= 0 or previous is None or previous.rate != rate or previous.burst != burst:
        return 0
    elapsed = max(now - previous.asked_at, 1e-3)
    demand = (previous.used + cost) / elapsed
    return min(cap, math.ceil(demand * window))

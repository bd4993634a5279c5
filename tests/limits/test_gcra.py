from __future__ import annotations

import pytest

from llmmeter.limits.gcra import decide


def _burst(rate: float, burst: int, n: int) -> int:
    now, tat, admitted = 1000.0, 1000.0, 0
    for _ in range(n):
        decision, tat = decide(tat, now, rate, burst, 1)
        admitted += decision.allowed
    return admitted


def test_burst_then_refusal_with_a_retry_that_works() -> None:
    assert _burst(20, 20, 100) == 20
    now = 1000.0
    tat = now + 20 / 20
    refused, _ = decide(tat, now, 20, 20, 1)
    assert not refused.allowed
    assert refused.retry_after_seconds == 1
    assert refused.headers()["Retry-After"] == "1"
    later, _ = decide(tat, now + refused.retry_after_seconds, 20, 20, 1)
    assert later.allowed


def test_steady_rate_is_admitted() -> None:
    tat, now = 0.0, 0.0
    for i in range(200):
        decision, tat = decide(tat, now + i * 0.1, 10, 1, 1)
        assert decision.allowed


def test_batch_costs_its_records() -> None:
    decision, tat = decide(0.0, 0.0, 50, 200, 150)
    assert decision.allowed
    assert decision.remaining == 50
    second, _ = decide(tat, 0.0, 50, 200, 100)
    assert not second.allowed
    assert second.retry_after_s == pytest.approx(1.0)


def test_batch_larger_than_the_burst_needs_a_full_bucket() -> None:
    decision, tat = decide(0.0, 0.0, 10, 50, 200)
    assert decision.allowed  # the bucket was full
    assert tat == pytest.approx(20.0)
    refused, _ = decide(tat, 1.0, 10, 50, 200)
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(19.0)


def test_headers() -> None:
    decision, _ = decide(0.0, 0.0, 10, 50, 1)
    assert decision.headers() == {
        "RateLimit-Limit": "50",
        "RateLimit-Remaining": "49",
        "RateLimit-Reset": "1",
    }

"""The slow tracker drill, short: Jira answering late, then after the bridge's timeout;
deliveries are still acknowledged and every revert is applied exactly once."""

from __future__ import annotations

from drills.slow_tracker import slow_tracker


def test_slow_tracker_short():
    row = slow_tracker("short")
    assert row.failures == [], (row.failures, row.figures)
    assert row.figures["acknowledged"] == "20/20"

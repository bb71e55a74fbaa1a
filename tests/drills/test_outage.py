"""The tracker outage drill, short: 503s then 429s with Retry-After while customers make
forbidden moves; every revert is applied once afterwards, with nobody replaying anything."""

from __future__ import annotations

from drills.outage import outage, too_soon


def test_outage_short():
    row = outage("short")
    assert row.failures == [], row.figures
    assert row.figures["calls during outage"].split()[0] != "0"  # the bridge did try meanwhile


def test_a_call_before_the_retry_after_is_counted():
    calls = [
        {"path": "/a", "at": 10.0, "status": 429, "retry_after": 2},
        {"path": "/b", "at": 10.5, "status": 200},
        {"path": "/a", "at": 11.0, "status": 429, "retry_after": 2},  # 1 s after asking for 2
        {"path": "/a", "at": 13.1, "status": 200},
    ]
    assert too_soon(calls) == [("/a", 1.0, 2.0)]

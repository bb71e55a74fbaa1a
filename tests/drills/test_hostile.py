"""The hostile input drill, short: schemathesis against /openapi.json and hypothesis against
the webhook edge; no 5xx, no crash, no internal error in the worker."""

from __future__ import annotations

from drills.hostile import hostile


def test_hostile_short():
    row = hostile("short")
    assert row.failures == [], (row.failures, row.figures)
    assert row.figures["schemathesis cases"] > 50, row.figures
    assert row.figures["webhook deliveries"] >= 30, row.figures  # hypothesis may stop short of 60

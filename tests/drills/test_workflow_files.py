"""The hostile workflow files drill, short: billion laughs, deep nesting, an oversized file,
bad bytes, a python tag, /dev/zero — `bridge check` and hot reload refuse each by name, in
bounded time and memory, and run nothing."""

from __future__ import annotations

from drills.workflow_files import workflow_files


def test_hostile_workflow_files_short():
    row = workflow_files("short")
    assert row.failures == [], (row.failures, row.figures)
    assert row.figures["refused by check"] == row.figures["refused on reload"] == 8

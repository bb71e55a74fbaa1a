"""The crash drill, short: the bridge SIGKILLed while deliveries (duplicates among them) and
reverts are under way, on SQLite and PostgreSQL. Nothing acknowledged is lost, nothing is
decided twice, every forbidden move is reverted with one transition and one comment."""

from __future__ import annotations

import pytest

from drills.crash import crash


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_crash_short(database: str):
    row = crash("short", database, seed=13)
    assert row.failures == [], row.figures
    assert row.figures["SIGKILLs"] == 1 and row.figures["acknowledged"] == row.figures["unique"]

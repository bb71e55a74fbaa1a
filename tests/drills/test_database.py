"""The database trouble drills, short: a held SQLite lock, a full disk (where a tmpfs can be
mounted), the bridge's PostgreSQL connections terminated. Nothing acknowledged is lost and
nothing is left in progress; the service is ready again afterwards."""

from __future__ import annotations

import pytest

from drills.database import full_disk, held_lock, postgres_restart


@pytest.mark.parametrize("drill", [held_lock, full_disk, pytest.param(postgres_restart, marks=pytest.mark.postgres)],
                         ids=["held-lock", "full-disk", "postgres-connections"])
def test_database_trouble_short(drill):
    row = drill("short")
    if row.note.startswith("not run"):
        pytest.skip(row.note)
    assert row.failures == [], (row.failures, row.figures)
    assert row.figures["acknowledged"] == row.figures["deliveries"] > 0

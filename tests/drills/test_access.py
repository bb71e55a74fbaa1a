"""The access drill, short: every /api/ operation refused without the right token, and no
configured secret in the log, the database or an export."""

from __future__ import annotations

from drills.access import access, exposed, operations


def test_access_short():
    row = access("short")
    assert row.failures == [], row.figures
    assert row.figures["requests without the right token"] >= 20 and row.figures["log lines"] > 0


def test_the_grep_finds_a_secret_and_the_spec_lists_operations():
    assert exposed("Authorization: Bearer e2e-admin") == ["admin token"]
    spec = {"paths": {"/healthz": {"get": {}}, "/api/deliveries/{delivery_id}/replay": {"post": {}}}}
    assert operations(spec) == [("POST", "/api/deliveries/1/replay")]

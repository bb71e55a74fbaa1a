"""Workflows in force: a valid change takes effect, a broken one is refused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bridge.workflows.registry import WorkflowRegistry

SHIPPED = Path(__file__).resolve().parents[2] / "workflows"


def touch_later(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_changes_apply_and_broken_changes_are_refused(tmp_path, caplog):
    folder = tmp_path / "workflows"
    shutil.copytree(SHIPPED, folder)
    registry = WorkflowRegistry(folder)
    assert not registry.reload_if_changed()  # nothing changed

    crm = folder / "deso-crm.yaml"
    original = crm.read_text(encoding="utf-8")
    touch_later(crm, original.replace("issue_types: [CRM]", "issue_types: [CRM, Lead]"))
    assert registry.reload_if_changed()
    assert registry.current.for_ticket("X", "Lead", None).name == "deso-crm"

    touch_later(crm, original.replace("statuses:", "statusses:", 1))
    assert not registry.reload_if_changed()
    assert registry.current.for_ticket("X", "Lead", None).name == "deso-crm"  # still in force
    assert any("statusses" in str(p) and str(crm) in str(p) for p in registry.last_problems)
    assert "workflow change refused" in caplog.text

    touch_later(crm, original)
    assert registry.reload_if_changed() and registry.last_problems == []
    assert registry.current.for_ticket("X", "Lead", None) is None

"""Workflows in force: a valid change takes effect, a broken one is refused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bridge.workflows import WorkflowSet, load_dir
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


HOSTILE = Path(__file__).resolve().parents[1] / "fixtures" / "workflows" / "hostile"


def deeply_nested(folder: Path) -> Path:
    path = folder / "deep.yaml"
    path.write_text("description: " + "[" * 1000 + "]" * 1000 + "\n", encoding="utf-8")
    return path


def alias_bomb(folder: Path) -> Path:
    return Path(shutil.copy(HOSTILE / "billion-laughs.yaml", folder / "laughs.yaml"))


@pytest.mark.parametrize(
    ("drop", "words"),
    [(alias_bomb, "YAML alias bomb"), (deeply_nested, "nesting deeper than 64 levels")],
    ids=["alias-bomb", "deep-nesting"],
)
def test_hostile_file_is_refused_and_the_old_workflows_stay(tmp_path, caplog, drop, words):
    folder = tmp_path / "workflows"
    shutil.copytree(SHIPPED, folder)
    registry = WorkflowRegistry(folder)
    before = registry.current

    bomb = drop(folder)
    assert not registry.reload_if_changed()
    assert registry.current is before
    (problem,) = registry.last_problems
    assert problem.path == str(bomb) and words in problem.message
    assert f"workflow change refused: {problem}" in caplog.text


def test_reload_that_fails_for_any_reason_is_a_refused_change(caplog):
    attempts: list[Path] = []

    def load(folder: Path) -> WorkflowSet:  # loads at start, then runs out of memory
        attempts.append(folder)
        if len(attempts) > 1:
            raise MemoryError
        return load_dir(folder)

    registry = WorkflowRegistry(SHIPPED, load=load)
    before = registry.current
    assert not registry.reload()
    assert registry.current is before
    (problem,) = registry.last_problems
    assert (problem.path, problem.line, problem.col) == (str(SHIPPED), 1, 1)
    assert "MemoryError" in problem.message
    assert "workflow change refused" in caplog.text and "Traceback" in caplog.text

"""`bridge doctor` against the Jira stand-in process: what a user sees before going live."""

from __future__ import annotations

import pytest

from bridge.workflows import load_dir
from tests.e2e.conftest import ROOT, TRANSITIONS, Bridge

pytestmark = pytest.mark.e2e


def lines(result) -> list[str]:
    return result.stdout.splitlines()


def test_a_good_configuration_is_ok_line_by_line(tmp_path, jira):
    named = sorted({name for wf in load_dir(ROOT / "workflows") for name in wf.statuses.values()})
    jira("POST", "/workflow", {"statuses": {name: str(20000 + i) for i, name in enumerate(named)}})
    jira("POST", "/issues", {"key": "SRV-1", "status": "Nový", "project": "SRV"})
    result = Bridge(tmp_path, jira.url).cli("doctor", "--ticket", "SRV-1")
    assert result.returncode == 0, result.stdout + result.stderr
    found = lines(result)
    assert [line.split(":")[0] for line in found] == [
        "OK    settings", "OK    database", "OK    workflows", "OK    tracker",
        "OK    permissions on SRV-1", "OK    statuses",
    ]
    assert "does not exist yet" in found[1] and not (tmp_path / "bridge.db").exists()
    assert found[4].endswith("browse, transition, comment, edit")


def test_each_problem_says_what_to_fix_and_exits_1(tmp_path, jira):
    jira("POST", "/reset", {"credentials": ["bridge@example.com:api-token"], "transitions": TRANSITIONS,
                            "denied_permissions": ["ADD_COMMENTS"]})
    jira("POST", "/issues", {"key": "SRV-1", "status": "Nový", "project": "SRV"})
    bridge = Bridge(tmp_path, jira.url)
    result = bridge.cli("doctor", "--ticket", "SRV-1")
    assert result.returncode == 1
    found = {line.split(":")[0]: line for line in lines(result)}
    assert "the bridge's account may not comment" in found["FAIL  permissions on SRV-1"]
    statuses = found["FAIL  statuses"]
    assert "'Vráceno klientem' of workflow service-sheet" not in statuses  # the stand-in has it
    assert "Jira has no status" in statuses and "of workflow targito-support" in statuses

    wrong = Bridge(tmp_path / "wrong", jira.url)
    wrong.env["BRIDGE_JIRA_TOKEN"] = "expired-token"
    result = wrong.cli("doctor")
    assert result.returncode == 1
    (tracker,) = [line for line in lines(result) if line.startswith("FAIL  tracker")]
    assert "401 from /myself: check BRIDGE_JIRA_USER/BRIDGE_JIRA_TOKEN" in tracker
    assert "expired-token" not in result.stdout + result.stderr


def test_a_broken_workflow_and_no_tracker_are_failures(tmp_path):
    bridge = Bridge(tmp_path, None)
    sheet = bridge.workflows / "service-sheet.yaml"
    sheet.write_text(sheet.read_text(encoding="utf-8").replace("statuses:", "statuzes:", 1), encoding="utf-8")
    result = bridge.cli("doctor")
    assert result.returncode == 1
    found = {line.split(":")[0]: line for line in lines(result)}
    assert "service-sheet.yaml:" in found["FAIL  workflows"] and "statuzes" in found["FAIL  workflows"]
    assert "no tracker is configured" in found["FAIL  tracker"]


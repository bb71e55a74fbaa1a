"""The real service process against the Jira stand-in process, as a user sees it."""

from __future__ import annotations

import json
import re
import shutil
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import load_fixture
from tests.e2e.conftest import CUSTOMER, ROOT, SECRET, Bridge, wait_until

HOSTILE = ROOT / "tests" / "fixtures" / "workflows" / "hostile"

pytestmark = pytest.mark.e2e


def status_of(jira, key: str) -> str:
    return jira("GET", f"/issues/{key}")["status"]


def test_customers_forbidden_move_is_reverted_within_a_second(jira, bridge: Bridge):
    jira("POST", "/issues", {"key": "SRV-412", "status": "Na klientovi", "project": "SRV"})
    moved_at = time.monotonic()
    jira("POST", "/issues/SRV-412/transition", {"to": "Hotovo", "user": CUSTOMER})
    wait_until(lambda: status_of(jira, "SRV-412") == "Na klientovi", timeout=5)
    assert time.monotonic() - moved_at < 1.0

    # the move back and its comment are two calls: read the ticket once both are made
    issue = wait_until(lambda: (i := jira("GET", "/issues/SRV-412"))["comments"] and i)
    (comment,) = issue["comments"]
    assert comment["jsdPublic"] is True and "Vráceno klientem" in json.dumps(comment["body"], ensure_ascii=False)
    # the bridge's own revert came back as a webhook: recorded, never judged, no further call
    decisions = wait_until(lambda: len(bridge.api("/api/decisions", ticket="SRV-412")) == 2 and bridge.api("/api/decisions", ticket="SRV-412"))
    assert [(d["verdict"], d["rule"]) for d in decisions] == [("ignored", "own-change"), ("reverted", "customer-transition")]
    posts = [c for c in jira("GET", "/calls") if c["method"] == "POST"]
    assert [c["path"].rsplit("/", 1)[1] for c in posts] == ["transitions", "comment"]
    log = bridge.log.read_text()
    assert "applied transition, comment on SRV-412" in log
    assert "api-token" not in log and SECRET not in log
    assert "BRIDGE_JIRA_WEBHOOK_SECRET is not set" not in log


def test_allowed_move_stays(jira, bridge: Bridge):
    jira("POST", "/issues", {"key": "SRV-7", "status": "Na klientovi", "project": "SRV"})
    jira("POST", "/issues/SRV-7/transition", {"to": "Vráceno klientem", "user": CUSTOMER})
    wait_until(lambda: bridge.api("/api/decisions", ticket="SRV-7"))
    assert bridge.api("/api/decisions", ticket="SRV-7")[0]["verdict"] == "allowed"
    assert status_of(jira, "SRV-7") == "Vráceno klientem"


def test_bad_input_gets_clear_errors_and_malformed_bodies_are_kept(bridge: Bridge):
    body = json.dumps(load_fixture("customer_forbidden_transition.json")).encode()
    wrong = bridge.post(body, "d-wrong", secret="not-the-secret")
    assert wrong.status_code == 401 and "signature" in wrong.json()["error"]
    unsigned = httpx.post(f"{bridge.url}/webhooks/jira", content=body, timeout=5)
    assert unsigned.status_code == 401
    huge = bridge.post(b'{"webhookEvent": "x", "pad": "' + b"a" * (1024 * 1024) + b'"}', "d-huge")
    assert huge.status_code == 413
    garbage = bridge.post(b"\x00\x01 not json", "d-garbage")
    assert garbage.status_code == 400 and "JSON" in garbage.json()["error"]

    listed = bridge.cli("deliveries", "list", "--state", "rejected", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["delivery_key"] == "d-garbage" and "not valid JSON" in row["last_error"]


def test_jira_down_the_delivery_waits_and_is_applied_when_jira_is_back(jira, bridge: Bridge):
    jira("POST", "/issues", {"key": "SRV-9", "status": "Hotovo", "project": "SRV"})
    jira("POST", "/faults", {"path_regex": "/issue/SRV-9$", "status": 503, "times": 6, "retry_after": 0})
    payload = load_fixture("customer_forbidden_transition.json")
    payload["issue"]["key"] = "SRV-9"
    assert bridge.post(payload, "d-down").status_code == 200
    waiting = wait_until(lambda: bridge.api("/api/deliveries", state="retrying"))
    assert "503" in waiting[0]["last_error"] and status_of(jira, "SRV-9") == "Hotovo"
    wait_until(lambda: status_of(jira, "SRV-9") == "Na klientovi", timeout=10)
    assert bridge.api("/api/deliveries", state="dead") == []


def test_a_refused_call_dead_letters_and_replay_from_the_cli_reverts(jira, bridge: Bridge):
    jira("POST", "/issues", {"key": "SRV-9", "status": "Hotovo", "project": "SRV"})
    jira("POST", "/faults", {"path_regex": "/transitions$", "method": "POST", "status": 403})
    payload = load_fixture("customer_forbidden_transition.json")
    payload["issue"]["key"] = "SRV-9"
    assert bridge.post(payload, "d-refused").status_code == 200
    dead = wait_until(lambda: bridge.api("/api/deliveries", state="dead"))
    assert "403" in dead[0]["last_error"]
    assert status_of(jira, "SRV-9") == "Hotovo"

    replayed = bridge.cli("deliveries", "replay", "--all-dead")
    assert replayed.returncode == 0 and "queued" in replayed.stdout
    wait_until(lambda: status_of(jira, "SRV-9") == "Na klientovi", timeout=5)


def test_broken_workflow_change_is_refused_and_the_old_rules_stay(jira, bridge: Bridge):
    sheet = bridge.workflows / "service-sheet.yaml"
    sheet.write_text(sheet.read_text(encoding="utf-8").replace("customer_transitions:", "customer_transitons:", 1), encoding="utf-8")
    refused = wait_until(lambda: httpx.get(f"{bridge.url}/readyz").json().get("refused_workflow_change"), timeout=5)
    assert any("service-sheet.yaml:" in p and "customer_transitons" in p for p in refused)

    jira("POST", "/issues", {"key": "SRV-11", "status": "Na klientovi", "project": "SRV"})
    jira("POST", "/issues/SRV-11/transition", {"to": "Hotovo", "user": CUSTOMER})
    wait_until(lambda: status_of(jira, "SRV-11") == "Na klientovi", timeout=5)


def peak_memory_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024


def test_workflow_alias_bomb_is_refused_and_the_service_stays_small(jira, bridge: Bridge):
    bomb = Path(shutil.copy(HOSTILE / "billion-laughs.yaml", bridge.workflows / "laughs.yaml"))
    refused = wait_until(lambda: httpx.get(f"{bridge.url}/readyz").json().get("refused_workflow_change"), timeout=10)
    assert len(refused) == 1 and refused[0].startswith(f"{bomb}:") and "alias bomb" in refused[0]
    assert bridge.api("/api/workflows")["refused_workflow_change"] == refused  # one name for it

    jira("POST", "/issues", {"key": "SRV-12", "status": "Na klientovi", "project": "SRV"})
    jira("POST", "/issues/SRV-12/transition", {"to": "Hotovo", "user": CUSTOMER})
    wait_until(lambda: status_of(jira, "SRV-12") == "Na klientovi", timeout=5)
    assert peak_memory_mb(bridge.proc.pid) < 300


def test_acknowledged_delivery_survives_a_crash(tmp_path, jira):
    first = Bridge(tmp_path, jira.url).start()
    jira("POST", "/issues", {"key": "SRV-13", "status": "Hotovo", "project": "SRV"})
    jira("POST", "/faults", {"path_regex": "/issue/SRV-13$", "delay_ms": 3000, "times": 1})
    payload = load_fixture("customer_forbidden_transition.json")
    payload["issue"]["key"] = "SRV-13"
    assert first.post(payload, "d-crash").status_code == 200
    first.stop(signal.SIGKILL)  # mid-processing, before any action
    assert status_of(jira, "SRV-13") == "Hotovo"

    second = Bridge(tmp_path, jira.url).start()
    try:
        wait_until(lambda: status_of(jira, "SRV-13") == "Na klientovi", timeout=10)
    finally:
        second.stop()


def test_runs_dry_without_a_tracker(tmp_path):
    dry = Bridge(tmp_path, None).start()
    try:
        assert httpx.get(f"{dry.url}/readyz").json()["dry_run"] is True
        assert dry.post(load_fixture("customer_forbidden_transition.json"), "d-dry").status_code == 200
        (decision,) = wait_until(lambda: dry.api("/api/decisions"))
        assert decision["verdict"] == "reverted" and decision["dry_run"]
        assert [a["outcome"] for a in decision["actions"]] == ["dry_run", "dry_run"]
    finally:
        dry.stop()
    assert "dry run, not sent" in dry.log.read_text()


def test_without_a_webhook_secret_start_up_warns_that_deliveries_are_not_authenticated(tmp_path):
    open_door = Bridge(tmp_path, None)
    del open_door.env["BRIDGE_JIRA_WEBHOOK_SECRET"]
    open_door.start()
    try:
        unsigned = httpx.post(f"{open_door.url}/webhooks/jira", json=load_fixture("customer_forbidden_transition.json"))
        assert unsigned.status_code == 200
    finally:
        open_door.stop()
    warnings = [line for line in open_door.log.read_text().splitlines() if " WARNING " in line]
    assert any("BRIDGE_JIRA_WEBHOOK_SECRET is not set" in w and "not authenticated" in w for w in warnings)

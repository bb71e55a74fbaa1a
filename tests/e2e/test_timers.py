"""Timers and reconcile through the real `bridge sweep` and `bridge serve` processes against
the Jira stand-in: what a user sees in Jira and in the audit log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import CUSTOMER, SECRET, Bridge, wait_until

pytestmark = pytest.mark.e2e

AGENT = {"accountId": "agent-1", "accountType": "atlassian", "displayName": "Petr Agent"}
SHEET = {
    "Ke schválení": [{"id": "71", "name": "Schválit", "to": "Schváleno"},
                     {"id": "72", "name": "Vrátit", "to": "Vráceno klientem"}],
    "Schváleno": [{"id": "81", "name": "Uzavřít", "to": "Hotovo"}],
    "Na klientovi": [{"id": "21", "name": "Vrátit", "to": "Vráceno klientem"}],
    "Hotovo": [{"id": "31", "name": "Zpět na klienta", "to": "Na klientovi"}],
}


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


def waiting_for_approval(jira, key: str, *moves: tuple[str, str, str]) -> None:
    """A ticket whose history is `moves` (from, to, when), ending in its status."""
    history = [{"from": a, "to": b, "at": at, "by": AGENT} for a, b, at in moves]
    jira("POST", "/issues", {"key": key, "status": moves[-1][1], "project": "SRV",
                             "transitions": SHEET, "history": history})


@pytest.fixture
def sheet(jira):
    jira("POST", "/workflow", {"transitions": SHEET})
    return jira


def sweep(bridge: Bridge, *args: str):
    result = bridge.cli("sweep", *args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def test_an_expired_approval_is_approved_and_closed_by_the_sweep(tmp_path, sheet):
    jira = sheet
    waiting_for_approval(jira, "SRV-1", ("Realizace", "Ke schválení", ago(days=6)))
    # returned, then sent back for approval yesterday: its five days start again
    waiting_for_approval(jira, "SRV-2", ("Realizace", "Ke schválení", ago(days=9)),
                         ("Ke schválení", "Vráceno klientem", ago(days=7)),
                         ("Vráceno klientem", "Ke schválení", ago(days=1)))
    # returned and still waiting on the team: no timer there
    waiting_for_approval(jira, "SRV-3", ("Realizace", "Ke schválení", ago(days=9)),
                         ("Ke schválení", "Vráceno klientem", ago(days=7)))
    bridge = Bridge(tmp_path, jira.url)

    shown = bridge.cli("timers", "list")
    listed = shown.stdout.splitlines()
    assert [line.split()[0] for line in listed[:-1]] == ["SRV-1", "SRV-2"]
    assert "DUE: expire" in listed[0] and "DUE" not in listed[1]
    assert listed[-1] == "2 tickets with a running timer"

    dry = sweep(bridge, "timers", "--dry-run")
    assert dry[0].startswith("would SRV-1") and jira("GET", "/issues/SRV-1")["status"] == "Ke schválení"

    lines = sweep(bridge, "timers")
    assert lines[0].startswith("SRV-1  Ke schválení since") and "DUE: expire" in lines[0]
    assert lines[-1].startswith("1 due of 2 tickets with a running timer")
    closed = jira("GET", "/issues/SRV-1")
    assert closed["status"] == "Hotovo"
    assert [h["to"] for h in closed["history"]][-2:] == ["Schváleno", "Hotovo"]
    (comment,) = closed["comments"]
    assert comment["jsdPublic"] and "automaticky schválen" in json.dumps(comment["body"], ensure_ascii=False)
    assert jira("GET", "/issues/SRV-2")["status"] == "Ke schválení"
    assert jira("GET", "/issues/SRV-3")["status"] == "Vráceno klientem"
    (decision,) = [d for d in bridge.cli_json("decisions", "list", "--ticket", "SRV-1") if d["verdict"] == "expired"]
    assert decision["rule"] == "timer-expired" and decision["actor_role"] == "bridge"
    assert [a["outcome"] for a in decision["actions"]] == ["done", "done", "done"]

    again = sweep(bridge, "timers")  # run twice: nothing more happens
    assert len(jira("GET", "/issues/SRV-1")["comments"]) == 1
    assert again[-1].startswith("0 due of 1 tickets")


def test_a_reminder_is_sent_once_across_two_sweeps(tmp_path, jira):
    history = [{"from": "Waiting for support", "to": "Waiting for customer", "at": ago(days=10), "by": AGENT}]
    portal = {"customfield_10010": {"requestType": {"id": "30", "name": "Potřebuji podporu"}}}
    jira("POST", "/issues", {"key": "TGS-5", "status": "Waiting for customer", "project": "TGS",
                             "issuetype": "[System] Service request", "fields": portal,
                             "history": history})
    bridge = Bridge(tmp_path, jira.url)
    sweep(bridge, "timers")
    sweep(bridge, "timers")
    issue = jira("GET", "/issues/TGS-5")
    assert issue["status"] == "Waiting for customer" and len(issue["comments"]) == 1
    assert "still waiting for your answer" in json.dumps(issue["comments"][0]["body"])


def test_a_move_jira_never_delivered_is_reverted_by_reconcile_and_judged_once(tmp_path, sheet):
    jira = sheet
    jira("POST", "/issues", {"key": "SRV-9", "status": "Na klientovi", "project": "SRV", "transitions": SHEET})
    bridge = Bridge(tmp_path, jira.url).start()
    try:
        jira("POST", "/issues/SRV-9/transition", {"to": "Hotovo", "user": CUSTOMER, "webhook": False})
        lines = sweep(bridge, "reconcile")
        assert lines[0].startswith("judging SRV-9  Na klientovi → Hotovo by Jana Nováková")
        wait_until(lambda: jira("GET", "/issues/SRV-9")["status"] == "Na klientovi", timeout=10)

        # the webhook Jira owed arrives after all: recorded, not judged again
        moved = [h for h in jira("GET", "/issues/SRV-9")["history"] if h["to"] == "Hotovo"][0]
        jira("POST", "/webhook", {"url": f"{bridge.url}/webhooks/jira", "secret": SECRET})
        late = {"webhookEvent": "jira:issue_updated", "user": CUSTOMER,
                "issue": {"key": "SRV-9", "fields": {"status": {"name": "Hotovo"}, "project": {"key": "SRV"},
                                                     "issuetype": {"name": "Servis"}}},
                "changelog": {"id": moved["id"], "items": [{"field": "status", "fromString": "Na klientovi",
                                                            "toString": "Hotovo"}]}}
        assert bridge.post(late, "late-webhook").status_code == 200
        judged = wait_until(lambda: [d for d in bridge.api("/api/decisions", ticket="SRV-9")
                                     if d["rule"] == "judged-before"])
        assert judged and len(jira("GET", "/issues/SRV-9")["comments"]) == 1
    finally:
        bridge.stop()


def test_jira_answering_429_mid_sweep_is_waited_for(tmp_path, sheet):
    jira = sheet
    for n in range(1, 121):
        waiting_for_approval(jira, f"SRV-{100 + n}", ("Realizace", "Ke schválení", ago(days=1)))
    waiting_for_approval(jira, "SRV-300", ("Realizace", "Ke schválení", ago(days=6)))
    jira("POST", "/faults", {"path_regex": "/search/jql$", "status": 429, "retry_after": 1, "times": 1})
    bridge = Bridge(tmp_path, jira.url)
    lines = sweep(bridge, "timers")
    assert lines[-1].startswith("1 due of 121 tickets")
    assert jira("GET", "/issues/SRV-300")["status"] == "Hotovo"
    assert [c["status"] for c in jira("GET", "/calls") if c["path"].endswith("/search/jql")][0] == 429


def test_the_service_sweeps_on_its_own(tmp_path, sheet):
    jira = sheet
    waiting_for_approval(jira, "SRV-1", ("Realizace", "Ke schválení", ago(days=5, seconds=-3)))
    bridge = Bridge(tmp_path, jira.url, BRIDGE_SWEEP_INTERVAL="1").start()
    try:
        wait_until(lambda: jira("GET", "/issues/SRV-1")["status"] == "Hotovo", timeout=20)
    finally:
        bridge.stop()

"""The tracker misbehaving under the real service process: answers that arrive after the
bridge gave up, and the bridge killed between sending a change and recording it. Every
revert is applied exactly once, with no one replaying anything. (An outage during a burst of
reverts is the tracker outage drill: drills/outage.py, short in test_outage.py.)"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

from tests.e2e.conftest import CUSTOMER, SECRET, Bridge, wait_until

def forbidden_move(jira, key: str) -> None:
    """A ticket in Na klientovi that the customer moves to Hotovo (not theirs to do)."""
    jira("POST", "/issues", {"key": key, "status": "Na klientovi", "project": "SRV"})
    jira("POST", f"/issues/{key}/transition", {"to": "Hotovo", "user": CUSTOMER})


def posts(jira) -> Counter:
    """Successful change calls per (ticket, kind)."""
    return Counter(
        (c["path"].split("/")[-2], c["path"].rsplit("/", 1)[1])
        for c in jira("GET", "/calls")
        if c["method"] == "POST" and c["status"] in (200, 201, 204)
    )


def test_answers_that_come_after_the_timeout_do_not_make_changes_twice(tmp_path, jira):
    bridge = Bridge(tmp_path, jira.url, BRIDGE_TRACKER_TIMEOUT_SECONDS="0.5").start()
    jira("POST", "/webhook", {"url": f"{bridge.url}/webhooks/jira", "secret": SECRET})
    try:
        jira("POST", "/faults", [
            {"path_regex": "/SRV-21/transitions$", "method": "POST", "late_ms": 1500},
            {"path_regex": "/SRV-22/comment$", "method": "POST", "late_ms": 1500},
        ])
        for key in ("SRV-21", "SRV-22"):
            forbidden_move(jira, key)
        for key in ("SRV-21", "SRV-22"):
            wait_until(lambda k=key: jira("GET", f"/issues/{k}")["comments"], timeout=15)
        time.sleep(2)  # time for any second send to arrive
        for key in ("SRV-21", "SRV-22"):
            issue = jira("GET", f"/issues/{key}")
            assert issue["status"] == "Na klientovi" and len(issue["comments"]) == 1, key
            assert [h["to"] for h in issue["history"]] == ["Hotovo", "Na klientovi"], key
        assert bridge.api("/api/deliveries", state="dead") == []
    finally:
        bridge.stop()


def test_killed_between_sending_a_comment_and_recording_it(tmp_path: Path, jira):
    first = Bridge(tmp_path, jira.url).start()
    jira("POST", "/webhook", {"url": f"{first.url}/webhooks/jira", "secret": SECRET})
    jira("POST", "/faults", {"path_regex": "/SRV-31/comment$", "method": "POST", "late_ms": 8000})
    forbidden_move(jira, "SRV-31")
    wait_until(lambda: jira("GET", "/issues/SRV-31")["comments"], timeout=10)
    first.stop(signal.SIGKILL)  # the comment is made; its answer never reached the bridge
    jira("DELETE", "/faults")

    second = Bridge(tmp_path, jira.url).start()
    jira("POST", "/webhook", {"url": f"{second.url}/webhooks/jira", "secret": SECRET})
    try:
        def reverted() -> list:
            found = second.api("/api/decisions", ticket="SRV-31", verdict="reverted")
            return found if found and all(a["outcome"] == "done" for a in found[0]["actions"]) else []

        (decision,) = wait_until(reverted, timeout=15)
        issue = jira("GET", "/issues/SRV-31")
        assert issue["status"] == "Na klientovi" and len(issue["comments"]) == 1
        assert posts(jira)[("SRV-31", "comment")] == 0  # the resumed attempt sent nothing new
        assert "already has comment" in second.log.read_text()
    finally:
        second.stop()

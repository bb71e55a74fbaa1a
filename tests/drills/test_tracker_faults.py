"""The tracker misbehaving under the real service process: an outage in the middle of a
burst of reverts, answers that arrive after the bridge gave up, and the bridge killed
between sending a change and recording it. Every revert is applied exactly once, with no
one replaying anything."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

from tests.e2e.conftest import CUSTOMER, SECRET, Bridge, wait_until

OUTAGE_SECONDS = 5


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


def test_an_outage_during_a_burst_of_reverts_needs_no_one(tmp_path, jira):
    bridge = Bridge(tmp_path, jira.url).start()
    jira("POST", "/webhook", {"url": f"{bridge.url}/webhooks/jira", "secret": SECRET})
    try:
        keys = [f"SRV-{100 + i}" for i in range(60)]
        jira("POST", "/issues", [{"key": k, "status": "Na klientovi", "project": "SRV"} for k in keys])
        jira("POST", "/faults", [  # Jira is down until the faults are cleared
            {"path_regex": "/comment$", "status": 429, "retry_after": 1, "seconds": 600},
            {"path_regex": "/rest/", "status": 503, "seconds": 600},
        ])
        for key in keys:
            jira("POST", f"/issues/{key}/transition", {"to": "Hotovo", "user": CUSTOMER})
        wait_until(lambda: len(bridge.api("/api/deliveries", state="retrying", limit="100")) == 60,
                   timeout=30, every=0.2)
        time.sleep(OUTAGE_SECONDS)  # retried meanwhile, never dead-lettered
        assert all(jira("GET", f"/issues/{k}")["status"] == "Hotovo" for k in keys)
        assert bridge.api("/api/deliveries", state="dead") == []

        jira("DELETE", "/faults")  # Jira is back; nobody replays anything
        wait_until(lambda: all(jira("GET", f"/issues/{k}")["status"] == "Na klientovi" for k in keys),
                   timeout=30, every=0.5)
        assert bridge.api("/api/deliveries", state="dead") == []
        made = posts(jira)
        for key in keys:
            assert made[(key, "transitions")] == 1 and made[(key, "comment")] == 1, key
            assert len(jira("GET", f"/issues/{key}")["comments"]) == 1, key
    finally:
        bridge.stop()


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

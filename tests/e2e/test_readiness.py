"""Readiness reflects the tracker: wrong credentials or an unreachable Jira are not healthy,
while deliveries keep being accepted and wait in the inbox."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import CUSTOMER, SECRET, TRANSITIONS, Bridge, free_port, wait_until

pytestmark = pytest.mark.e2e

FIX = "401 from /myself: check BRIDGE_JIRA_USER/BRIDGE_JIRA_TOKEN; Cloud API tokens expire"


def test_a_wrong_token_is_not_ready_and_deliveries_wait_until_it_is_fixed(tmp_path, jira):
    jira("POST", "/reset", {"credentials": ["bridge@example.com:the-real-token"], "transitions": TRANSITIONS})
    bridge = Bridge(tmp_path, jira.url).start(until="/healthz")
    try:
        status, body = wait_until(lambda: (r := bridge.readyz())[1].get("tracker") != "jira: not checked yet" and r)
        assert status == 503 and body["ready"] is False
        assert body["tracker"] == f"jira: {FIX}"
        errors = [line for line in bridge.log.read_text().splitlines() if " ERROR " in line]
        assert len(errors) == 1 and errors[0].endswith(f"tracker jira is not usable: {FIX}")

        jira("POST", "/issues", {"key": "SRV-61", "status": "Na klientovi", "project": "SRV"})
        jira("POST", "/webhook", {"url": f"{bridge.url}/webhooks/jira", "secret": SECRET})
        jira("POST", "/issues/SRV-61/transition", {"to": "Hotovo", "user": CUSTOMER})
        (delivered,) = wait_until(lambda: [d for d in jira("GET", "/webhook/deliveries") if d["status"]])
        assert delivered["status"] == 200  # accepted, kept in the inbox
        assert bridge.api("/api/deliveries", state="pending")
        assert bridge.api("/api/deliveries", state="dead") == []

        # the admin gives Jira the token the bridge has (as if the bridge's were replaced)
        jira("POST", "/reset", {"credentials": ["bridge@example.com:api-token"], "transitions": TRANSITIONS})
        jira("POST", "/issues", {"key": "SRV-61", "status": "Hotovo", "project": "SRV"})
        wait_until(lambda: bridge.readyz()[0] == 200, timeout=15)
        wait_until(lambda: jira("GET", "/issues/SRV-61")["status"] == "Na klientovi", timeout=10)
        assert "tracker jira answers again" in bridge.log.read_text()
    finally:
        bridge.stop()


def test_an_unreachable_jira_is_named_with_the_fix(tmp_path):
    bridge = Bridge(tmp_path, f"http://127.0.0.1:{free_port()}").start(until="/healthz")
    try:
        status, body = wait_until(lambda: (r := bridge.readyz())[1].get("tracker") != "jira: not checked yet" and r)
        assert status == 503
        assert body["tracker"] == ("jira: unreachable: GET /rest/api/3/myself: connection refused; "
                                   "check BRIDGE_JIRA_URL")
        assert bridge.post({"webhookEvent": "jira:issue_updated"}, "d-1").status_code in (200, 422)
        assert httpx.get(f"{bridge.url}/healthz").status_code == 200
    finally:
        bridge.stop()

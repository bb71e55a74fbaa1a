"""The README's "Try it against the Jira stand-in" walkthrough, step by step, with its files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import ROOT, Bridge, wait_until

pytestmark = pytest.mark.e2e
DEMO = ROOT / "tests" / "fixtures" / "demo"


def test_readme_walkthrough_ends_with_a_reverted_ticket(tmp_path: Path):
    readme = (ROOT / "README.md").read_text()
    assert "tests/fixtures/demo/standin.json" in readme and "tests/fixtures/demo/customer-closes.json" in readme
    standin = subprocess.Popen(
        [sys.executable, "-m", "tests.standin", "--port", "0", "--state-file", str(DEMO / "standin.json")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        jira = standin.stdout.readline().split()[-1]
        bridge = Bridge(
            tmp_path, None,
            BRIDGE_JIRA_URL=jira, BRIDGE_JIRA_USER="bridge@example.com", BRIDGE_JIRA_TOKEN="demo-token",
            BRIDGE_JIRA_WEBHOOK_SECRET="demo-secret",
        ).start()
        try:
            # the seed points the webhook at :8080; the test's bridge listens elsewhere
            httpx.post(f"{jira}/_standin/webhook", json={"url": f"{bridge.url}/webhooks/jira", "secret": "demo-secret"})
            moved = httpx.post(f"{jira}/_standin/issues/SRV-1/transition",
                               content=(DEMO / "customer-closes.json").read_bytes(),
                               headers={"Content-Type": "application/json"})
            assert moved.status_code == 201, moved.text
            issue = wait_until(lambda: (i := httpx.get(f"{jira}/_standin/issues/SRV-1").json())["status"] == "Na klientovi" and i)
            (comment,) = issue["comments"]
            assert "Vráceno klientem" in json.dumps(comment["body"], ensure_ascii=False)
            listed = bridge.cli("decisions", "list", "--ticket", "SRV-1")
            assert "verdict=reverted" in listed.stdout, listed.stdout + listed.stderr
        finally:
            bridge.stop()
    finally:
        standin.terminate()
        standin.wait(10)

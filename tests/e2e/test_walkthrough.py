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
            issue = wait_until(lambda: (i := httpx.get(f"{jira}/_standin/issues/SRV-1").json())["status"] == "Na klientovi"
                               and i["comments"] and i)
            (comment,) = issue["comments"]
            assert "Vráceno klientem" in json.dumps(comment["body"], ensure_ascii=False)
            listed = bridge.cli("decisions", "list", "--ticket", "SRV-1")
            assert "verdict=reverted" in listed.stdout, listed.stdout + listed.stderr
        finally:
            bridge.stop()
    finally:
        standin.terminate()
        standin.wait(10)


def _started(module: str, state: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", module, "--port", "0", "--state-file", str(state)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().split()[-1]


def test_readme_development_walkthrough_brings_the_ticket_back_to_testing(tmp_path: Path):
    readme = (ROOT / "README.md").read_text()
    for name in ("development-jira.json", "development-devops.json", "agent-to-development.json"):
        assert f"tests/fixtures/demo/{name}" in readme
    standin, jira = _started("tests.standin", DEMO / "development-jira.json")
    devops_standin, devops = _started("tests.devops_standin", DEMO / "development-devops.json")
    try:
        bridge = Bridge(
            tmp_path, None,
            BRIDGE_JIRA_URL=jira, BRIDGE_JIRA_USER="bridge@example.com", BRIDGE_JIRA_TOKEN="demo-token",
            BRIDGE_JIRA_WEBHOOK_SECRET="demo-secret", BRIDGE_DEVOPS_URL=f"{devops}/example-org/ERP",
            BRIDGE_DEVOPS_TOKEN="demo-pat", BRIDGE_DEVOPS_WEBHOOK_SECRET="demo-hook",
        ).start()
        try:
            # the seeds point the hooks at :8080; the test's bridge listens elsewhere
            httpx.post(f"{jira}/_standin/webhook", json={"url": f"{bridge.url}/webhooks/jira", "secret": "demo-secret"})
            httpx.post(f"{devops}/_standin/hook", json={"url": f"{bridge.url}/webhooks/devops", "user": "",
                                                        "password": "demo-hook", "field": "System.State"})
            moved = httpx.post(f"{jira}/_standin/issues/SRV-2/transition",
                               content=(DEMO / "agent-to-development.json").read_bytes(),
                               headers={"Content-Type": "application/json"})
            assert moved.status_code == 201, moved.text
            item = wait_until(lambda: (i := httpx.get(f"{devops}/_standin/workitems/4711").json()).get("relations") and i)
            assert [r["url"] for r in item["relations"]] == [f"{jira}/browse/SRV-2"]
            httpx.post(f"{devops}/_standin/workitems/4711/state", json={"state": "Done"}).raise_for_status()
            # the move and its comment are two calls: read the ticket once both are made
            issue = wait_until(lambda: (i := httpx.get(f"{jira}/_standin/issues/SRV-2").json())["status"] == "Testování"
                               and i["comments"] and i)
            (comment,) = issue["comments"]
            assert "4711" in json.dumps(comment["body"], ensure_ascii=False)
            # the link on the ticket is marked resolved right after the move and the comment
            wait_until(lambda: httpx.get(f"{jira}/_standin/issues/SRV-2").json()["remote_links"][0]["object"]["status"]["resolved"])
        finally:
            bridge.stop()
    finally:
        for proc in (standin, devops_standin):
            proc.terminate()
            proc.wait(10)

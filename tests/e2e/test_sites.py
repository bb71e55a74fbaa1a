"""Several sites in one deployment: two Jira sites, each with its own credentials, secret and
workflows, served by one `bridge serve`; tickets with the same key never mix."""

from __future__ import annotations

import subprocess
import sys
import hashlib
import hmac
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import CUSTOMER, ROOT, TRANSITIONS, Bridge, decided, wait_until

pytestmark = pytest.mark.e2e


def standin_process(credentials: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.standin", "--port", "0", "--credentials", credentials],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline().strip()
    assert line.startswith("JIRA-STANDIN READY"), line
    return proc, line.split()[-1]


class Site:
    def __init__(self, url: str, credentials: str) -> None:
        self.url = url
        self.control("POST", "/reset", {"credentials": [credentials], "transitions": TRANSITIONS})

    def control(self, method: str, path: str, payload: object = None) -> object:
        r = httpx.request(method, f"{self.url}/_standin{path}", json=payload, timeout=10)
        r.raise_for_status()
        return r.json() if r.content else None

    def status(self, key: str) -> str:
        return self.control("GET", f"/issues/{key}")["status"]


@pytest.fixture
def two_sites(tmp_path) -> Iterator[tuple[Site, Site, Bridge]]:
    acme_proc, acme_url = standin_process("bot@acme.example:acme-token")
    beta_proc, beta_url = standin_process("bot@beta.example:beta-token")
    sites_file = tmp_path / "sites.yaml"
    sites_file.write_text(
        "sites:\n"
        f"  - name: acme\n    kind: jira\n    url: {acme_url}\n    user: bot@acme.example\n"
        "    token_env: ACME_TOKEN\n    webhook_secret_env: ACME_SECRET\n"
        f"  - name: beta\n    kind: jira\n    url: {beta_url}\n    user: bot@beta.example\n"
        "    token_env: BETA_TOKEN\n    webhook_secret_env: BETA_SECRET\n"
        "    workflows: [service-sheet]\n",
        encoding="utf-8",
    )
    bridge = Bridge(
        tmp_path, None, BRIDGE_SITES_FILE=str(sites_file),
        ACME_TOKEN="acme-token", ACME_SECRET="acme-secret", BETA_TOKEN="beta-token", BETA_SECRET="beta-secret",
    )
    del bridge.env["BRIDGE_JIRA_WEBHOOK_SECRET"]
    try:
        acme, beta = Site(acme_url, "bot@acme.example:acme-token"), Site(beta_url, "bot@beta.example:beta-token")
        bridge.start()
        acme.control("POST", "/webhook", {"url": f"{bridge.url}/webhooks/acme", "secret": "acme-secret"})
        beta.control("POST", "/webhook", {"url": f"{bridge.url}/webhooks/beta", "secret": "beta-secret"})
        yield acme, beta, bridge
    finally:
        bridge.stop()
        for proc in (acme_proc, beta_proc):
            proc.terminate()
            proc.wait(10)


def test_two_sites_each_revert_their_own_ticket_of_the_same_key(two_sites):
    acme, beta, bridge = two_sites
    for site in (acme, beta):
        site.control("POST", "/issues", {"key": "SRV-412", "status": "Na klientovi", "project": "SRV"})
    acme.control("POST", "/issues/SRV-412/transition", {"to": "Hotovo", "user": CUSTOMER})
    wait_until(lambda: acme.status("SRV-412") == "Na klientovi")
    decided(bridge, "SRV-412", "customer-transition")
    assert beta.status("SRV-412") == "Na klientovi"  # untouched: nothing happened there
    assert not [c for c in beta.control("GET", "/calls") if c["method"] == "POST"]

    beta.control("POST", "/issues/SRV-412/transition", {"to": "Hotovo", "user": CUSTOMER})
    wait_until(lambda: beta.status("SRV-412") == "Na klientovi")
    def reverts() -> list[dict]:
        found = [d for d in bridge.api("/api/decisions", ticket="SRV-412") if d["rule"] == "customer-transition"]
        return found if len(found) == 2 and all(a["outcome"] == "done" for d in found for a in d["actions"]) else []

    reverted = wait_until(reverts)
    assert sorted(d["tracker"] for d in reverted) == ["acme", "beta"]
    for site in (acme, beta):  # one comment each, on its own site
        assert len(site.control("GET", "/issues/SRV-412")["comments"]) == 1
    log = bridge.log.read_text()
    for secret in ("acme-token", "beta-token", "acme-secret", "beta-secret"):
        assert secret not in log


def test_deliveries_are_authenticated_per_site_and_unknown_sites_are_404(two_sites):
    _, _, bridge = two_sites
    body = b'{"webhookEvent": "jira:issue_updated"}'

    def signed(site: str, secret: str) -> int:
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature": signature, "X-Atlassian-Webhook-Identifier": f"d-{site}-{secret}"}
        return httpx.post(f"{bridge.url}/webhooks/{site}", content=body, headers=headers, timeout=5).status_code

    assert signed("acme", "beta-secret") == 401  # another site's secret proves nothing here
    assert signed("acme", "acme-secret") in (200, 422)
    assert signed("unknown", "acme-secret") == 404
    assert signed("jira", "acme-secret") == 404  # no site of that name in this deployment
    ready = bridge.readyz()[1]
    assert set(ready["tracker"]) == {"acme", "beta"}

"""Development items through the real service, against the Jira stand-in and the Azure DevOps
stand-in: a ticket enters development only with a PBI that exists, is linked both ways, and
comes back to testing when the PBI is done."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.e2e.conftest import ROOT, SECRET, Bridge, decided, wait_until

pytestmark = pytest.mark.e2e

PAT = "devops-pat"
HOOK_PASSWORD = "hook-secret"
AGENT = {"accountId": "agent-1", "accountType": "atlassian", "displayName": "Petr Agent"}
SHEET = {
    "Realizace": [{"id": "31", "name": "Na vývoj", "to": "Na vývoji"}],
    "Testování": [{"id": "51", "name": "Zpět na vývoj", "to": "Na vývoji"}],
    "Na vývoji": [{"id": "41", "name": "Testovat", "to": "Testování"},
                  {"id": "42", "name": "Zpět do realizace", "to": "Realizace"}],
}
ITEMS = [
    {"id": 4711, "type": "Product Backlog Item", "title": "Export faktur selhává", "state": "Committed"},
    {"id": 4712, "type": "Product Backlog Item", "title": "Tisk dodacích listů", "state": "Committed"},
    {"id": 4713, "type": "Product Backlog Item", "title": "Hotová oprava", "state": "Done"},
    {"id": 4714, "type": "Bug", "title": "Zrušená chyba", "state": "Removed"},
]


@pytest.fixture(scope="module")
def devops_url() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.devops_standin", "--port", "0", "--token", PAT],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line.startswith("DEVOPS-STANDIN READY"), line
    yield line.split()[-1]
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def devops(devops_url: str) -> Callable[..., object]:
    def control(method: str, path: str, payload: object = None) -> object:
        r = httpx.request(method, f"{devops_url}/_standin{path}", json=payload, timeout=10)
        r.raise_for_status()
        return r.json() if r.content else None

    control("POST", "/reset", {"token": PAT, "items": ITEMS})
    control.url = devops_url  # type: ignore[attr-defined]
    return control


@pytest.fixture
def service(tmp_path, jira, devops) -> Iterator[Bridge]:
    jira("POST", "/workflow", {"transitions": SHEET})
    bridge = Bridge(tmp_path, jira.url, BRIDGE_DEVOPS_URL=f"{devops.url}/example-org/ERP",
                    BRIDGE_DEVOPS_TOKEN=PAT, BRIDGE_DEVOPS_WEBHOOK_SECRET=HOOK_PASSWORD,
                    BRIDGE_SWEEP_INTERVAL="0").start()
    jira("POST", "/webhook", {"url": f"{bridge.url}/webhooks/jira", "secret": SECRET})
    devops("POST", "/hook", {"url": f"{bridge.url}/webhooks/devops", "user": "", "password": HOOK_PASSWORD})
    yield bridge
    bridge.stop()


def in_progress(jira, key: str, pbi: str | None) -> None:
    fields = {"customfield_10050": pbi} if pbi is not None else {}
    jira("POST", "/issues", {"key": key, "status": "Realizace", "project": "SRV", "fields": fields})


def to_development(jira, key: str) -> None:
    jira("POST", f"/issues/{key}/transition", {"to": "Na vývoji", "user": AGENT})




def comments(jira, key: str) -> list[str]:
    return [json.dumps(c["body"], ensure_ascii=False) for c in jira("GET", f"/issues/{key}")["comments"]]


def hyperlinks(devops, item: int) -> list[str]:
    return [r["url"] for r in devops("GET", f"/workitems/{item}").get("relations", []) if r["rel"] == "Hyperlink"]


def test_a_pbi_that_exists_is_linked_both_ways_once(jira, devops, service):
    in_progress(jira, "SRV-1", "PBI 4711")
    to_development(jira, "SRV-1")
    decided(service, "SRV-1", "dev-linked")
    # the last action's outcome is recorded as its delivery ends
    decision = wait_until(lambda: [d for d in service.api("/api/decisions", ticket="SRV-1")
                                   if d["rule"] == "dev-linked" and d["actions"][0]["outcome"] == "done"], timeout=10)[0]
    assert decision["verdict"] == "allowed"
    assert jira("GET", "/issues/SRV-1")["status"] == "Na vývoji"
    assert hyperlinks(devops, 4711) == [f"{jira.url}/browse/SRV-1"]
    (remote,) = jira("GET", "/issues/SRV-1")["remote_links"]
    assert remote["globalId"] == "ticket-bridge:azure-devops:4711"
    assert remote["object"]["status"]["resolved"] is False

    # the same change delivered again under another id is judged once
    sent = jira("GET", "/webhook/deliveries")[-1]
    assert service.post(sent["body"], "sent-again").status_code == 200
    decided(service, "SRV-1", "judged-before")
    # back to work and into development again: linked again, still once each way
    jira("POST", "/issues/SRV-1/transition", {"to": "Realizace", "user": AGENT})
    to_development(jira, "SRV-1")
    wait_until(lambda: len([d for d in service.api("/api/decisions", ticket="SRV-1") if d["rule"] == "dev-linked"]) == 2,
               timeout=10)
    assert hyperlinks(devops, 4711) == [f"{jira.url}/browse/SRV-1"]
    assert len(jira("GET", "/issues/SRV-1")["remote_links"]) == 1


@pytest.mark.parametrize(
    ("field", "says"),
    [(None, "Číslo PBI"), ("asdf jkl", "asdf jkl"), ("PBI 9999", "9999"), ("4714", "4714")],
    ids=["missing", "garbage", "no-such-item", "removed"],
)
def test_development_without_a_pbi_that_is_worked_on_is_reverted_with_a_comment(jira, service, field, says):
    in_progress(jira, "SRV-2", field)
    to_development(jira, "SRV-2")
    wait_until(lambda: jira("GET", "/issues/SRV-2")["status"] == "Realizace", timeout=10)
    (comment,) = wait_until(lambda: comments(jira, "SRV-2"))  # the comment follows the move
    assert says in comment


def test_two_tickets_on_one_pbi_both_come_back_when_it_is_done(jira, devops, service):
    for key in ("SRV-5", "SRV-6"):
        in_progress(jira, key, "#4712")
        to_development(jira, key)
        decided(service, key, "dev-linked")
    devops("POST", "/workitems/4712/state", {"state": "Done"})
    for key in ("SRV-5", "SRV-6"):
        wait_until(lambda key=key: jira("GET", f"/issues/{key}")["status"] == "Testování", timeout=10)
        assert any("4712" in text for text in comments(jira, key))
        wait_until(lambda key=key: jira("GET", f"/issues/{key}")["remote_links"][0]["object"]["status"]["resolved"],
                   timeout=10)
    # the bridge's own moves came back as webhooks: recorded, not judged
    own = decided(service, "SRV-5", "own-change")
    assert own["to_status"] == "Testování"
    returned = decided(service, "SRV-5", "dev-done")
    assert returned["verdict"] == "returned"


def test_a_pbi_done_before_the_ticket_entered_development_sends_it_on_at_once(jira, service):
    in_progress(jira, "SRV-7", "4713")
    to_development(jira, "SRV-7")
    wait_until(lambda: jira("GET", "/issues/SRV-7")["status"] == "Testování", timeout=10)
    assert any("4713" in text for text in comments(jira, "SRV-7"))


def test_a_hook_without_the_password_is_refused(service):
    body = (ROOT / "tests" / "fixtures" / "azure-devops" / "servicehook_workitem_updated_done.json").read_bytes()
    for auth in (None, ("", "wrong")):
        r = httpx.post(f"{service.url}/webhooks/devops", content=body, auth=auth, timeout=5)
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    r = httpx.post(f"{service.url}/webhooks/devops", content=b"{\"eventType\": \"build.complete\"}",
                   auth=("", HOOK_PASSWORD), timeout=5)
    assert 400 <= r.status_code < 500 and "workitem" in r.text
    # an item no ticket hangs on: recorded, nothing moved
    assert httpx.post(f"{service.url}/webhooks/devops", content=body, auth=("", HOOK_PASSWORD), timeout=5).status_code == 200
    recorded = wait_until(lambda: [d for d in service.cli_json("decisions", "list") if "4711" in d["reason"]], timeout=10)
    assert recorded[0]["reason"] == "azure-devops item 4711: no ticket is linked to it"


def test_a_missed_hook_is_caught_by_reconcile(jira, devops, service):
    in_progress(jira, "SRV-8", "PBI-4711")
    to_development(jira, "SRV-8")
    decided(service, "SRV-8", "dev-linked")
    devops("POST", "/workitems/4711/state", {"state": "Done", "hook": False})
    swept = service.cli("sweep", "reconcile")
    assert swept.returncode == 0, swept.stderr
    assert "1 tickets queued: SRV-8" in swept.stdout
    wait_until(lambda: jira("GET", "/issues/SRV-8")["status"] == "Testování", timeout=10)


def test_azure_devops_down_never_holds_the_ticket_and_the_agents_are_told(jira, devops, service):
    devops("POST", "/faults", {"path_regex": "_apis/wit/workitems", "status": 503, "times": 50})
    in_progress(jira, "SRV-9", "4711")
    to_development(jira, "SRV-9")
    decision = decided(service, "SRV-9", "dev-unreachable")
    assert decision["verdict"] == "needs_attention"
    assert jira("GET", "/issues/SRV-9")["status"] == "Na vývoji"  # the move stands
    (note,) = jira("GET", "/issues/SRV-9")["comments"]
    assert note["jsdPublic"] is False and "4711" in json.dumps(note["body"], ensure_ascii=False)

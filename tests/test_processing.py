"""The whole loop in one process: signed delivery → inbox → worker → Jira stand-in.

The bridge's HTTP client talks to the stand-in through ASGITransport, and the stand-in's
webhooks (sent after the bridge's own transitions, as Jira does) reach the bridge the same way.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import uuid
from pathlib import Path

import httpx
import pytest

from bridge.app import create_app
from bridge.config import Settings
from bridge.trackers.jira import adf
from tests.conftest import FIXTURES, load_fixture
from tests.standin import JiraStandin
from tests.standin import create_app as standin_app

ROOT = Path(__file__).resolve().parents[1]
SECRET = "webhook-secret"
ADMIN = {"Authorization": "Bearer admin-token"}
SERVIS = {
    "Na klientovi": [
        {"id": "21", "name": "Vrátit", "to": "Vráceno klientem"},
        {"id": "22", "name": "Hotovo", "to": "Hotovo"},
    ],
    "Hotovo": [{"id": "31", "name": "Zpět na klienta", "to": "Na klientovi"}],
    "Realizace": [
        {"id": "41", "name": "Na vývoj", "to": "Na vývoji"},
        {"id": "42", "name": "Zrušit", "to": "Zrušeno"},
    ],
    "Na vývoji": [{"id": "51", "name": "Zpět do realizace", "to": "Realizace"}],
    "Zrušeno": [{"id": "61", "name": "Obnovit", "to": "Realizace"}],
    "Ke schválení": [{"id": "71", "name": "Schválit", "to": "Schváleno"}],
    "Waiting for support": [{"id": "81", "name": "Back to approval", "to": "Waiting for approval"}],
}


class Harness:
    def __init__(self, tmp_path: Path, deployment: str = "cloud", **settings: object) -> None:
        self.standin = JiraStandin(deployment=deployment)
        self.standin.set_workflow(SERVIS)
        self.settings = Settings(
            _env_file=None,
            workflows_dir=ROOT / "workflows",
            jira_url="http://jira.test",
            jira_user="bridge@example.com",
            jira_token="api-token",
            jira_deployment=deployment,
            jira_webhook_secret=SECRET,
            tracker_attempts=2,
            tracker_backoff_seconds=0,
            **{"database_url": f"sqlite:///{tmp_path / 'bridge.db'}", "admin_token": "admin-token", **settings},
        )
        self.app = create_app(
            self.settings, transport=httpx.ASGITransport(app=standin_app(self.standin))
        )
        self.services = self.app.app.state.services
        self.bridge = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://bridge")
        self.standin._transport = httpx.ASGITransport(app=self.app)
        self.standin.set_webhook("http://bridge/webhooks/jira", SECRET, deployment)

    async def deliver(self, payload: dict, delivery_id: str | None = None) -> httpx.Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature": signature, "X-Atlassian-Webhook-Identifier": delivery_id or str(uuid.uuid4())}
        response = await self.bridge.post("/webhooks/jira", content=body, headers=headers)
        assert response.status_code == 200, response.text
        return response

    async def process(self) -> None:
        """Work until the inbox is empty, webhooks the stand-in sent included."""
        while True:
            handled = await self.services.worker.run_once()
            await self.standin.drain()
            if not handled and not self.services.store.counts()["pending"]:
                return

    def rest_calls(self) -> list[tuple[str, str]]:
        return [(c["method"], c["path"]) for c in self.standin.calls]

    def decisions(self, ticket: str | None = None) -> list[dict]:
        return self.services.store.list_decisions(ticket)


@pytest.fixture
async def harness(tmp_path):
    h = Harness(tmp_path)
    h.services.inbox.start()
    await h.services.worker.tracker.identity()  # as the service does at start
    h.standin.calls.clear()
    yield h
    h.services.inbox.stop()


def issue(standin: JiraStandin, key: str, status: str, **kw) -> None:
    standin.add_issue({"key": key, "status": status, "issuetype": kw.pop("issuetype", "Servis"), **kw})


def forbidden(key: str = "SRV-412") -> dict:
    payload = load_fixture("customer_forbidden_transition.json")
    payload["issue"]["key"] = key
    return payload


async def test_forbidden_customer_move_is_reverted_with_a_visible_comment(harness):
    issue(harness.standin, "SRV-412", "Hotovo")
    await harness.deliver(forbidden())
    await harness.process()

    state = harness.standin.issue_state(harness.standin.issues["SRV-412"])
    assert state["status"] == "Na klientovi"
    (comment,) = state["comments"]
    assert comment["jsdPublic"] is True
    assert "Vráceno klientem" in json.dumps(comment["body"], ensure_ascii=False)
    assert harness.rest_calls() == [
        ("GET", "/rest/api/3/issue/SRV-412"),
        ("POST", "/rest/api/3/issue/SRV-412/transitions"),
        ("POST", "/rest/api/3/issue/SRV-412/comment"),
    ]  # the bridge's own revert came back as a webhook and cost nothing
    reverted, own = harness.decisions("SRV-412")[::-1]
    assert (reverted["verdict"], reverted["rule"]) == ("reverted", "customer-transition")
    assert [a["outcome"] for a in reverted["actions"]] == ["done", "done"]
    assert (own["verdict"], own["rule"]) == ("ignored", "own-change")


async def test_stale_event_reverts_nothing(harness):
    issue(harness.standin, "SRV-412", "Realizace")  # an agent moved it on meanwhile
    await harness.deliver(forbidden())
    await harness.process()
    assert harness.rest_calls() == [("GET", "/rest/api/3/issue/SRV-412")]
    assert harness.decisions("SRV-412")[0]["verdict"] == "stale"


@pytest.mark.parametrize(
    "sample",
    [
        "customer_allowed_approval.json",
        "agent_transition.json",
        "summary_only_change.json",
        "comment_created_by_customer.json",
        "issue_created.json",
    ],
)
async def test_events_that_cannot_act_cost_no_tracker_call(harness, sample):
    await harness.deliver(load_fixture(sample))
    await harness.process()
    assert harness.rest_calls() == []
    (decision,) = harness.decisions()
    assert decision["verdict"] in ("allowed", "ignored")


async def test_ticket_type_without_a_workflow_costs_no_call(harness):
    payload = forbidden()
    payload["issue"]["fields"]["issuetype"]["name"] = "Bug"
    await harness.deliver(payload)
    await harness.process()
    assert harness.rest_calls() == []
    assert harness.decisions()[0]["rule"] == "no-workflow"


async def test_duplicate_deliveries_act_once(harness):
    issue(harness.standin, "SRV-412", "Hotovo")
    for _ in range(3):
        await harness.deliver(forbidden(), delivery_id="same-id")
    await harness.process()
    assert harness.rest_calls().count(("POST", "/rest/api/3/issue/SRV-412/transitions")) == 1


async def test_a_change_delivered_again_under_another_id_is_not_judged_again(harness):
    """Jira (or reconcile) brings the same status change with a new delivery id, in a later
    claim: the change is known to be judged, and the revert is not made twice."""
    issue(harness.standin, "SRV-412", "Hotovo")
    await harness.deliver(forbidden(), delivery_id="first")
    await harness.process()
    harness.standin.issues["SRV-412"].status = "Hotovo"  # as if the revert had not been seen yet
    await harness.deliver(forbidden(), delivery_id="again")
    await harness.process()
    assert harness.rest_calls().count(("POST", "/rest/api/3/issue/SRV-412/transitions")) == 1
    rules = [d["rule"] for d in harness.decisions("SRV-412")]
    assert rules.count("customer-transition") == 1 and rules.count("judged-before") == 1


async def test_entry_requirement_binds_agents_with_an_internal_note(harness):
    issue(harness.standin, "SRV-500", "Na vývoji", fields={"customfield_10050": None})
    payload = load_fixture("agent_transition.json")
    payload["issue"]["key"] = "SRV-500"
    item = payload["changelog"]["items"][0]
    item.update(fromString="Realizace", toString="Na vývoji")
    await harness.deliver(payload)
    await harness.process()
    state = harness.standin.issue_state(harness.standin.issues["SRV-500"])
    assert state["status"] == "Realizace"
    assert state["comments"][0]["jsdPublic"] is False
    assert "PBI" in json.dumps(state["comments"][0]["body"], ensure_ascii=False)


async def test_entry_requirement_met_leaves_the_ticket_alone_unchecked_without_a_provider(harness):
    issue(harness.standin, "SRV-501", "Na vývoji", fields={"customfield_10050": "PBI-4711"})
    payload = load_fixture("agent_transition.json")
    payload["issue"]["key"] = "SRV-501"
    payload["changelog"]["items"][0].update(fromString="Realizace", toString="Na vývoji")
    await harness.deliver(payload)
    await harness.process()
    assert harness.standin.issues["SRV-501"].status == "Na vývoji"
    decision = harness.decisions()[0]
    assert decision["rule"] == "dev-linked" and "not checked" in decision["reason"]


async def test_jsm_decline_needs_a_comment(harness):
    issue(harness.standin, "TGS-88", "Waiting for support", issuetype="[System] Service request", project="TGS")
    await harness.deliver(load_fixture("jsm_decline_without_comment.json"))
    await harness.process()
    assert harness.standin.issues["TGS-88"].status == "Waiting for approval"
    assert harness.decisions("TGS-88")[-1]["workflow"] == "targito-support"


async def test_jsm_decline_with_comment_is_allowed_without_calls(harness):
    await harness.deliver(load_fixture("jsm_decline_with_comment.json"))
    await harness.process()
    assert harness.rest_calls() == []
    assert harness.decisions()[0]["verdict"] == "allowed"


async def test_no_way_back_alerts_agents_and_is_listed(harness):
    harness.standin.add_issue({"key": "SRV-412", "status": "Hotovo", "transitions": {}})
    await harness.deliver(forbidden())
    await harness.process()
    state = harness.standin.issue_state(harness.standin.issues["SRV-412"])
    assert state["status"] == "Hotovo"
    assert [c["jsdPublic"] for c in state["comments"]] == [False]
    (attention,) = harness.services.store.list_decisions(verdict="needs_attention")
    assert attention["ticket"] == "SRV-412"


async def test_the_intake_accepts_the_signature_algorithms_the_settings_name(tmp_path):
    h = Harness(tmp_path, webhook_signature_algorithms="sha512")
    h.services.inbox.start()
    body = json.dumps(forbidden()).encode()
    try:
        for algorithm, status in [("sha256", 401), ("sha512", 200)]:
            signature = f"{algorithm}=" + hmac.new(SECRET.encode(), body, algorithm).hexdigest()
            r = await h.bridge.post("/webhooks/jira", content=body, headers={"X-Hub-Signature": signature})
            assert r.status_code == status, r.text
    finally:
        h.services.inbox.stop()


async def test_api_is_off_without_an_admin_token(tmp_path):
    h = Harness(tmp_path, admin_token=None)
    r = await h.bridge.get("/api/decisions")
    assert r.status_code == 403 and "BRIDGE_ADMIN_TOKEN" in r.json()["detail"]


async def test_dry_run_reads_but_never_writes(tmp_path):
    h = Harness(tmp_path, dry_run=True)
    h.services.inbox.start()
    try:
        issue(h.standin, "SRV-412", "Hotovo")
        await h.deliver(forbidden())
        await h.process()
        assert [m for m, _ in h.rest_calls()] == ["GET"]
        (decision,) = h.decisions()
        assert decision["verdict"] == "reverted" and decision["dry_run"]
        assert [a["outcome"] for a in decision["actions"]] == ["dry_run", "dry_run"]
    finally:
        h.services.inbox.stop()


async def test_data_center_customer_known_by_group_gets_a_plain_comment(tmp_path):
    h = Harness(tmp_path, deployment="datacenter", jira_customer_groups="portal-customers")
    h.services.inbox.start()
    try:
        h.standin.add_user({"name": "jnovakova", "groups": ["portal-customers"]})
        h.standin.add_user({"name": "petr", "groups": ["jira-software-users"]})
        issue(h.standin, "SRV-412", "Hotovo")
        await h.deliver(load_fixture("datacenter_customer_transition.json"))
        await h.process()
        assert h.standin.issues["SRV-412"].status == "Na klientovi"
        (comment,) = h.standin.issues["SRV-412"].comments
        assert isinstance(comment["body"], str)
        assert ("POST", "/rest/api/2/issue/SRV-412/comment") in h.rest_calls()

        agent = copy.deepcopy(load_fixture("datacenter_customer_transition.json"))
        agent["user"]["name"] = "petr"
        h.standin.calls.clear()
        await h.deliver(agent)
        await h.process()
        assert ("POST", "/rest/api/2/issue/SRV-412/transitions") not in h.rest_calls()
    finally:
        h.services.inbox.stop()


async def test_two_quick_customer_moves_are_judged_as_one_way(harness):
    """Na klientovi → Ke schválení (forbidden) → Schváleno (allowed from there): by the time the
    first is judged the ticket has moved on, so the second is judged as Na klientovi → Schváleno
    and the ticket goes back to Na klientovi: approving needs the agents' Ke schválení first."""
    customer = {"accountId": "qm:77", "accountType": "customer", "displayName": "Jana"}
    issue(harness.standin, "SRV-5", "Na klientovi",
          transitions={**SERVIS, "Schváleno": [{"id": "91", "name": "Zpět na klienta", "to": "Na klientovi"}],
                       "Na klientovi": [{"id": "23", "name": "Ke schválení", "to": "Ke schválení"}]})
    ticket = harness.standin.issues["SRV-5"]
    base = "http://jira.test"
    first = harness.standin.move(ticket, "Ke schválení", by=customer, base=base)
    second = harness.standin.move(ticket, "Schváleno", by=customer, base=base)
    await harness.deliver(first)
    await harness.deliver(second)
    await harness.process()

    assert harness.standin.issues["SRV-5"].status == "Na klientovi"
    decisions = harness.decisions("SRV-5")[::-1]
    assert [(d["verdict"], d["chain_from"]) for d in decisions] == [
        ("stale", None), ("reverted", "Na klientovi"), ("ignored", None)  # the last: the bridge's echo
    ]
    assert "Na klientovi → Ke schválení → Schváleno" in decisions[1]["reason"]
    (comment,) = harness.standin.issue_state(ticket)["comments"]
    assert "Na klientovi → Schváleno" in json.dumps(comment["body"], ensure_ascii=False)


async def test_a_customers_earlier_stale_move_counts_when_the_next_comes_in_a_later_claim(harness):
    """As above, the second move taken up on its own, after the first was judged: the chain of
    the customer's moves is read with its claim, and it is judged as one way all the same."""
    customer = {"accountId": "qm:77", "accountType": "customer", "displayName": "Jana"}
    issue(harness.standin, "SRV-6", "Na klientovi",
          transitions={**SERVIS, "Schváleno": [{"id": "91", "name": "Zpět na klienta", "to": "Na klientovi"}],
                       "Na klientovi": [{"id": "23", "name": "Ke schválení", "to": "Ke schválení"}]})
    ticket = harness.standin.issues["SRV-6"]
    first = harness.standin.move(ticket, "Ke schválení", by=customer, base="http://jira.test")
    second = harness.standin.move(ticket, "Schváleno", by=customer, base="http://jira.test")
    await harness.deliver(first)
    await harness.process()
    await harness.deliver(second)
    await harness.process()

    assert harness.standin.issues["SRV-6"].status == "Na klientovi"
    decisions = harness.decisions("SRV-6")[::-1]
    assert [(d["verdict"], d["chain_from"]) for d in decisions][:2] == [("stale", None), ("reverted", "Na klientovi")]


# -- a required reason given apart from the status change ------------------------------------
CUSTOMER = {"accountId": "qm:77", "accountType": "customer", "displayName": "Jana"}
REQUEST_TYPE = {"customfield_10010": {"requestType": {"id": "31", "name": "Něco mi nefunguje"}}}
SITE = "http://jira.test"


def awaiting_approval(h: Harness, key: str = "TGS-90"):
    """A Targito request waiting for the customer's approval."""
    issue(h.standin, key, "Waiting for approval", issuetype="[System] Service request", project="TGS",
          fields=REQUEST_TYPE)
    return h.standin.issues[key]


def comments_in_jira(h: Harness, ticket, text: str) -> None:
    """The customer comments; the comment reaches the bridge only through the REST API."""
    h.standin.add_comment(ticket, {"body": adf(text)}, SITE, "3", author=CUSTOMER)


async def declines(h: Harness, ticket) -> None:
    """The customer declines; the delivery carries no comment, as Cloud's no longer do."""
    await h.deliver(h.standin.move(ticket, "Waiting for support", by=CUSTOMER, base=SITE))
    await h.process()


async def test_a_reason_commented_just_before_the_decline_lets_it_stand(harness):
    ticket = awaiting_approval(harness)
    comments_in_jira(harness, ticket, "Export still fails for template XY.")
    await declines(harness, ticket)
    assert ticket.status == "Waiting for support"
    (decision,) = harness.decisions("TGS-90")
    assert (decision["verdict"], decision["rule"]) == ("allowed", "requirements-met")
    assert harness.rest_calls() == [("GET", "/rest/api/3/issue/TGS-90/comment")]


async def test_a_reason_commented_just_after_the_decline_lets_it_stand(harness):
    ticket = awaiting_approval(harness)
    await declines(harness, ticket)
    (waiting,) = harness.services.store.list_deliveries()
    assert waiting["state"] == "retrying" and "requires a comment" in waiting["last_error"]
    assert ticket.status == "Waiting for support" and harness.decisions() == []

    comments_in_jira(harness, ticket, "Export still fails for template XY.")
    harness.services.store.replay(waiting["id"])  # as if the window had closed
    await harness.process()
    assert ticket.status == "Waiting for support"
    assert harness.decisions("TGS-90")[0]["verdict"] == "allowed"


async def test_a_decline_without_a_reason_is_reverted_once_the_window_closes(tmp_path):
    h = Harness(tmp_path, comment_window_seconds=1)
    h.services.inbox.start()
    try:
        ticket = awaiting_approval(h)
        await declines(h, ticket)
        assert ticket.status == "Waiting for support"
        await asyncio.sleep(1.2)
        await h.process()
        assert ticket.status == "Waiting for approval"
        reverted = h.decisions("TGS-90")[-1]
        assert (reverted["verdict"], reverted["rule"]) == ("reverted", "entry-requirement")
    finally:
        h.services.inbox.stop()


# -- what real Jira sites send ------------------------------------------------------------------
REAL = FIXTURES / "jira" / "real"


def real(name: str) -> dict:
    return json.loads((REAL / name).read_text(encoding="utf-8"))


async def test_deliveries_about_no_one_ticket_are_recorded_as_ignored_without_a_call(harness):
    for name in ("cloud_worklog_created.json", "cloud_sprint_started.json"):
        await harness.deliver(real(name))
    await harness.process()
    assert {d["state"] for d in harness.services.store.list_deliveries()} == {"done"}
    assert {(d["event"], d["ticket"], d["verdict"], d["rule"]) for d in harness.decisions()} == {
        ("worklog_created", None, "ignored", "no-rule"),
        ("sprint_started", None, "ignored", "no-rule"),
    }
    assert harness.rest_calls() == []


# the ticket the Data Center comment deliveries name by id (10013) only
PRJX_14 = {"id": "10013", "key": "PRJX-14", "status": "To Do", "issuetype": "Story"}


async def test_a_data_center_comment_is_recorded_against_the_ticket_its_address_names(harness):
    harness.standin.add_issue(PRJX_14)
    await harness.deliver(real("server_comment_created_without_issue.json"))
    await harness.process()
    (decision,) = harness.decisions("PRJX-14")
    assert (decision["verdict"], decision["event"], decision["actor"]) == ("ignored", "comment_created", "Lev Brouk (levbrouk)")
    assert harness.rest_calls() == [("GET", "/rest/api/3/issue/10013")]


@pytest.mark.parametrize("name", sorted(p.name for p in REAL.glob("*.json")))
async def test_every_real_jira_body_is_taken_and_decided(harness, name):
    harness.standin.add_issue(PRJX_14)
    body = real(name)
    await harness.deliver(body)
    await harness.process()
    (delivery,) = harness.services.store.list_deliveries(include_body=True)
    assert delivery["state"] == "done", delivery["last_error"]
    assert json.loads(delivery["body"]) == body  # kept whole, for what reads it later (billing)
    (decision,) = harness.decisions()
    assert decision["event"] == body["webhookEvent"] and decision["verdict"] in ("ignored", "allowed")
    named = (body.get("issue") or {}).get("key") or ("PRJX-14" if name.startswith("server_comment") else None)
    assert decision["ticket"] == named

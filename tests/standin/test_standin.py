"""The Jira stand-in answers like Jira, refuses what Jira refuses, and reports what it saw."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import select
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .adf import adf_problem
from .app import create_app
from .openapi import resolve
from .rest import OPERATIONS
from .state import JiraStandin

ROOT = Path(__file__).resolve().parents[2]
SERVIS = {
    "Na klientovi": [{"id": "31", "name": "Hotovo", "to": "Hotovo"}],
    "Hotovo": [{"id": "41", "name": "Vrátit klientovi", "to": "Na klientovi"}],
}
CUSTOMER = {"accountId": "qm:1f0c2b7e-5c1a-4d8e-9b11-8a0c3e6d2f40:5e4f", "accountType": "customer",
            "displayName": "Jana Nováková"}


def adf(*blocks: dict) -> dict:
    return {"type": "doc", "version": 1, "content": list(blocks)}


def paragraph(text: str) -> dict:
    return {"type": "paragraph", "content": [{"type": "text", "text": text}]}


def seeded(webhook_transport: httpx.AsyncBaseTransport | None = None) -> JiraStandin:
    standin = JiraStandin(transport=webhook_transport)
    standin.set_workflow(SERVIS)
    standin.add_issue({"key": "SRV-412", "id": "20417", "status": "Na klientovi", "project": "SRV",
                       "fields": {"summary": "Faktura se neodeslala", "customfield_10050": None}})
    return standin


def client_of(standin: JiraStandin, **kwargs: object) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(standin))
    return httpx.AsyncClient(transport=transport, base_url="https://jira.test", **kwargs)


@pytest.fixture
def standin() -> JiraStandin:
    return seeded()


@pytest.fixture
async def jira(standin: JiraStandin):
    async with client_of(standin, auth=("bridge@example.com", "token")) as client:
        yield client


async def transition(jira: httpx.AsyncClient, transition_id: str) -> httpx.Response:
    return await jira.post("/rest/api/3/issue/SRV-412/transitions",
                           json={"transition": {"id": transition_id}})


async def test_operations_missing_from_jiras_openapi_answer_404(jira: httpx.AsyncClient) -> None:
    assert (await jira.get("/rest/api/3/issue/SRV-412/revert")).status_code == 404
    response = await jira.get("/rest/api/2/nonsense")
    assert response.json() == {"message": "null for uri: https://jira.test/rest/api/2/nonsense",
                               "status-code": 404}


async def test_a_method_jira_lacks_on_a_real_path_answers_405(jira: httpx.AsyncClient) -> None:
    response = await jira.delete("/rest/api/3/myself")
    assert response.status_code == 405 and response.headers["allow"] == "GET"
    assert (await jira.put("/rest/api/3/issue/SRV-412/transitions")).headers["allow"] == "GET, POST"


async def test_real_operations_the_standin_lacks_answer_501(jira: httpx.AsyncClient) -> None:
    response = await jira.get("/rest/api/3/issue/SRV-412/watchers")
    assert response.status_code == 501
    assert "/rest/api/3/issue/{issueIdOrKey}/watchers" in response.json()["errorMessages"][0]


def test_every_operation_the_standin_serves_exists_in_jiras_openapi() -> None:
    for method, template in OPERATIONS:
        for version in ("2", "3"):
            found = resolve(method, template.replace("/3/", f"/{version}/"))
            assert found is not None and found[:2] == (version, template)


def test_resolve_prefers_literal_segments_and_maps_v2_to_v3_templates() -> None:
    assert resolve("GET", "/rest/api/3/issue/picker") == ("3", "/rest/api/3/issue/picker", {})
    assert resolve("GET", "/rest/api/2/issue/SRV-1") == (
        "2", "/rest/api/3/issue/{issueIdOrKey}", {"issueIdOrKey": "SRV-1"})
    assert resolve("POST", "/rest/api/3/issue/SRV-1") is None


async def test_rest_calls_need_authorization(standin: JiraStandin) -> None:
    async with client_of(standin) as anonymous:
        assert (await anonymous.get("/rest/api/3/myself")).status_code == 401
        bearer = {"Authorization": "Bearer pat-123"}
        assert (await anonymous.get("/rest/api/2/myself", headers=bearer)).status_code == 200
        standin.credentials = ["bridge:secret"]
        assert (await anonymous.get("/rest/api/2/myself", headers=bearer)).status_code == 401
        good = await anonymous.get("/rest/api/2/myself", auth=("bridge", "secret"))
        assert good.status_code == 200


async def test_myself_is_shaped_by_deployment(
    jira: httpx.AsyncClient, standin: JiraStandin
) -> None:
    cloud = (await jira.get("/rest/api/3/myself")).json()
    assert cloud["accountId"] == standin.account["accountId"]
    assert cloud["accountType"] == "atlassian"
    standin.deployment = "datacenter"
    datacenter = (await jira.get("/rest/api/2/myself")).json()
    assert {datacenter["name"], datacenter["key"]} == {"ticket-bridge", "JIRAUSER10001"}
    assert "accountId" not in datacenter


async def test_v3_comment_must_be_adf(jira: httpx.AsyncClient) -> None:
    response = await jira.post("/rest/api/3/issue/SRV-412/comment", json={"body": "Vráceno."})
    assert response.status_code == 400
    assert response.json() == {"errorMessages": [],
                               "errors": {"comment": "Comment body is not valid!"}}


@pytest.mark.parametrize("body", [
    {"type": "doc", "content": [paragraph("no version")]},
    adf({"type": "text", "text": "inline at top level"}),
    adf({"type": "paragraph", "content": [{"type": "text", "text": ""}]}),
    adf({"type": "paragraph", "content": [paragraph("nested")]}),
    adf({"type": "heading", "content": [{"type": "text", "text": "no level"}]}),
    adf({"type": "paragraf", "content": []}),
    adf({"type": "paragraph", "content": [{"type": "text", "text": "x",
                                           "marks": [{"type": "bold"}]}]}),
    adf({"type": "codeBlock", "content": [{"type": "text", "text": "x",
                                           "marks": [{"type": "em"}]}]}),
])
async def test_malformed_adf_is_refused(jira: httpx.AsyncClient, body: dict) -> None:
    response = await jira.post("/rest/api/3/issue/SRV-412/comment", json={"body": body})
    assert response.status_code == 400, adf_problem(body)


async def test_valid_adf_comment_is_stored(
    jira: httpx.AsyncClient, standin: JiraStandin
) -> None:
    link = {"type": "link", "attrs": {"href": "https://jira.test/browse/SRV-412"}}
    item = {"type": "listItem", "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "odkaz", "marks": [link]}]}]}
    body = adf(paragraph("Stav vrácen."), {"type": "bulletList", "content": [item]})
    response = await jira.post("/rest/api/3/issue/SRV-412/comment", json={"body": body})
    assert response.status_code == 201
    comment = response.json()
    assert comment["body"] == body and comment["jsdPublic"] is True
    assert comment["author"]["accountId"] == standin.account["accountId"]
    assert {"id", "created", "updated", "self"} <= comment.keys()
    assert standin.issues["SRV-412"].comments == [comment]


async def test_internal_comment_is_hidden_from_the_portal(jira: httpx.AsyncClient) -> None:
    internal = [{"key": "sd.public.comment", "value": {"internal": True}}]
    payload = {"body": adf(paragraph("jen pro agenty")), "properties": internal}
    response = await jira.post("/rest/api/3/issue/SRV-412/comment", json=payload)
    assert response.status_code == 201 and response.json()["jsdPublic"] is False


async def test_v2_comment_is_a_string(jira: httpx.AsyncClient) -> None:
    response = await jira.post("/rest/api/2/issue/SRV-412/comment", json={"body": "Vráceno."})
    assert response.status_code == 201 and response.json()["body"] == "Vráceno."
    refused = await jira.post("/rest/api/2/issue/SRV-412/comment",
                              json={"body": adf(paragraph("x"))})
    assert refused.status_code == 400
    listed = (await jira.get("/rest/api/2/issue/20417/comment")).json()
    assert listed["total"] == 1 and listed["comments"][0]["body"] == "Vráceno."


async def test_transition_changes_status(jira: httpx.AsyncClient) -> None:
    available = (await jira.get("/rest/api/3/issue/SRV-412/transitions")).json()
    assert available["expand"] == "transitions"
    assert [(t["id"], t["to"]["name"]) for t in available["transitions"]] == [("31", "Hotovo")]

    done = await transition(jira, "31")
    assert done.status_code == 204 and done.content == b""
    issue = (await jira.get("/rest/api/3/issue/SRV-412?fields=status")).json()
    assert (issue["fields"]["status"]["name"], issue["fields"]["status"]["id"]) == (
        "Hotovo", "10108")

    again = await transition(jira, "31")
    assert again.status_code == 400
    assert again.json() == {
        "errorMessages": ["Transition id '31' is not valid for this issue."], "errors": {}}


async def test_issue_fields_filter_and_transitions_expand(jira: httpx.AsyncClient) -> None:
    params = {"fields": "status,customfield_10050", "expand": "transitions"}
    issue = (await jira.get("/rest/api/3/issue/SRV-412", params=params)).json()
    assert (issue["id"], issue["key"]) == ("20417", "SRV-412")
    assert issue["self"] == "https://jira.test/rest/api/3/issue/20417"
    assert set(issue["fields"]) == {"status", "customfield_10050"}
    assert issue["fields"]["status"]["statusCategory"]["key"] == "indeterminate"
    transition = issue["transitions"][0]
    assert transition["to"]["name"] == "Hotovo"
    assert {"hasScreen", "isGlobal", "isInitial", "isConditional"} <= transition.keys()

    everything = (await jira.get("/rest/api/2/issue/SRV-412")).json()
    assert "transitions" not in everything
    assert {"summary", "issuetype", "project", "status", "customfield_10050"} <= set(
        everything["fields"])
    assert everything["fields"]["issuetype"]["name"] == "Servis"
    trimmed = (await jira.get("/rest/api/2/issue/SRV-412?fields=*all,-summary")).json()
    assert "summary" not in trimmed["fields"] and "status" in trimmed["fields"]


async def test_unknown_issue_is_404(jira: httpx.AsyncClient) -> None:
    response = await jira.get("/rest/api/3/issue/SRV-1")
    assert response.status_code == 404
    assert response.json() == {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }


async def test_faults_answer_with_retry_after_then_clear(
    jira: httpx.AsyncClient, standin: JiraStandin
) -> None:
    fault = {"method": "POST", "path_regex": "/transitions$", "status": 503, "times": 2,
             "retry_after": 1}
    assert (await jira.post("/_standin/faults", json=fault)).status_code == 201
    statuses = []
    for _ in range(3):
        response = await transition(jira, "31")
        statuses.append((response.status_code, response.headers.get("Retry-After")))
    assert statuses == [(503, "1"), (503, "1"), (204, None)]
    assert standin.issues["SRV-412"].status == "Hotovo"
    assert (await jira.get("/_standin/faults")).json() == []


async def test_fault_delay(jira: httpx.AsyncClient) -> None:
    await jira.post("/_standin/faults", json={"path_regex": "/myself$", "delay_ms": 100})
    started = time.monotonic()
    assert (await jira.get("/rest/api/3/myself")).status_code == 200
    assert time.monotonic() - started >= 0.1


async def test_a_late_answer_comes_after_the_change_is_made(
    jira: httpx.AsyncClient, standin: JiraStandin
) -> None:
    await jira.post("/_standin/faults", json={"path_regex": "/transitions$", "late_ms": 2000})
    with pytest.raises(TimeoutError):  # the client gives up waiting
        await asyncio.wait_for(jira.post("/rest/api/3/issue/SRV-412/transitions",
                                         json={"transition": {"id": "31"}}), 0.2)
    assert standin.issues["SRV-412"].status == "Hotovo"  # made all the same


async def test_an_outage_refuses_every_matching_call_for_its_time(
    jira: httpx.AsyncClient, standin: JiraStandin
) -> None:
    await jira.post("/_standin/faults", json={"path_regex": "/rest/", "status": 503,
                                             "seconds": 0.3})
    assert [(await jira.get("/rest/api/3/myself")).status_code for _ in range(3)] == [503] * 3
    time.sleep(0.35)
    assert (await jira.get("/rest/api/3/myself")).status_code == 200
    assert (await jira.get("/_standin/faults")).json() == []


async def test_comment_properties_are_kept_and_read_back(jira: httpx.AsyncClient) -> None:
    marker = {"key": "ticket-bridge", "value": {"action": "a-1"}}
    made = (await jira.post("/rest/api/3/issue/SRV-412/comment",
                            json={"body": adf(paragraph("Vráceno.")), "properties": [marker]})).json()
    plain = (await jira.post("/rest/api/3/issue/SRV-412/comment",
                             json={"body": adf(paragraph("Bez značky."))})).json()
    assert "properties" not in made  # Jira does not show them in the comment itself
    found = await jira.get(f"/rest/api/3/comment/{made['id']}/properties/ticket-bridge")
    assert found.status_code == 200 and found.json() == marker
    missing = await jira.get(f"/rest/api/3/comment/{plain['id']}/properties/ticket-bridge")
    assert missing.status_code == 404 and "does not exist" in missing.json()["errorMessages"][0]
    newest = (await jira.get("/rest/api/3/issue/SRV-412/comment",
                             params={"orderBy": "-created", "maxResults": "1"})).json()
    assert [c["id"] for c in newest["comments"]] == [plain["id"]] and newest["total"] == 2


async def test_calls_are_logged_in_order(jira: httpx.AsyncClient) -> None:
    params = {"fields": "status", "expand": "transitions"}
    await jira.get("/rest/api/3/issue/SRV-412", params=params)
    await transition(jira, "99")
    await jira.get("/rest/api/3/nonsense")
    calls = (await jira.get("/_standin/calls")).json()
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [
        ("GET", "/rest/api/3/issue/SRV-412", 200),
        ("POST", "/rest/api/3/issue/SRV-412/transitions", 400),
        ("GET", "/rest/api/3/nonsense", 404),
    ]
    assert calls[0]["query"] == {"fields": "status", "expand": "transitions"}
    assert calls[0]["body"] is None
    assert calls[1]["body"] == {"transition": {"id": "99"}}
    assert calls[0]["at"] <= calls[1]["at"] <= calls[2]["at"]


async def test_datacenter_user_with_groups(
    jira: httpx.AsyncClient, standin: JiraStandin
) -> None:
    standin.deployment = "datacenter"
    await jira.post("/_standin/users", json={
        "name": "jnovakova", "key": "JIRAUSER10412", "displayName": "Jana Nováková",
        "groups": ["portal-customers"]})
    params = {"username": "jnovakova", "expand": "groups"}
    user = (await jira.get("/rest/api/2/user", params=params)).json()
    assert (user["name"], user["key"]) == ("jnovakova", "JIRAUSER10412")
    assert user["groups"]["size"] == 1 and user["groups"]["items"][0]["name"] == "portal-customers"
    missing = await jira.get("/rest/api/2/user", params={"username": "nobody"})
    assert missing.status_code == 404


class Bridge:
    """Receives the stand-in's webhook deliveries (through httpx.MockTransport)."""

    def __init__(self) -> None:
        self.received: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.receive)

    def receive(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        return httpx.Response(200)


async def test_revert_is_delivered_as_a_signed_webhook() -> None:
    bridge = Bridge()
    standin = seeded(bridge.transport)
    async with client_of(standin, auth=("bridge", "token")) as jira:
        webhook = {"url": "http://bridge.test/webhooks/jira", "secret": "s3cret"}
        assert (await jira.post("/_standin/webhook", json=webhook)).status_code == 204
        assert (await transition(jira, "31")).status_code == 204
        await standin.drain()
        deliveries = (await jira.get("/_standin/webhook/deliveries")).json()

    (request,) = bridge.received
    expected = "sha256=" + hmac.new(b"s3cret", request.content, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Hub-Signature"], expected)
    assert request.headers["X-Atlassian-Webhook-Identifier"]
    event = json.loads(request.content)
    assert event["webhookEvent"] == "jira:issue_updated"
    assert event["user"]["accountId"] == standin.account["accountId"]
    assert event["issue"]["key"] == "SRV-412"
    assert event["issue"]["fields"]["status"]["name"] == "Hotovo"
    assert event["changelog"]["items"] == [{
        "field": "status", "fieldtype": "jira", "fieldId": "status",
        "from": "10104", "fromString": "Na klientovi", "to": "10108", "toString": "Hotovo"}]
    assert deliveries[0]["status"] == 200


async def test_a_customer_move_reaches_the_webhook_as_that_customer() -> None:
    bridge = Bridge()
    standin = seeded(bridge.transport)
    async with client_of(standin) as jira:
        await jira.post("/_standin/webhook", json={"url": "http://bridge.test/webhooks/jira"})
        moved = await jira.post("/_standin/issues/SRV-412/transition",
                                json={"to": "Hotovo", "user": CUSTOMER})
        await standin.drain()
        state = (await jira.get("/_standin/issues/SRV-412")).json()
    assert moved.status_code == 201 and state["status"] == "Hotovo"
    assert state["history"][0]["by"] == CUSTOMER["accountId"]
    (request,) = bridge.received
    assert json.loads(request.content)["user"]["accountType"] == "customer"
    assert "X-Hub-Signature" not in request.headers


async def test_reset_loads_a_seed(jira: httpx.AsyncClient) -> None:
    seed = {"deployment": "datacenter", "statuses": {"Nový": {"id": "1", "category": "new"}},
            "transitions": {"*": [{"id": "11", "name": "Zpět na nový", "to": "Nový"}]},
            "issues": [{"key": "TGS-88", "status": "Realizace"}]}
    assert (await jira.post("/_standin/reset", json=seed)).status_code == 204
    assert (await jira.get("/rest/api/2/issue/SRV-412")).status_code == 404
    transitions = (await jira.get("/rest/api/2/issue/TGS-88/transitions")).json()["transitions"]
    assert [(t["id"], t["isGlobal"], t["to"]["statusCategory"]["key"]) for t in transitions] == [
        ("11", True, "new")]
    assert "name" in (await jira.get("/rest/api/2/myself")).json()


def test_runs_as_a_process(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"issues": [{"key": "SRV-1", "status": "Hotovo"}]}), "utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.standin", "--port", "0", "--state-file", str(seed)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 10)
        assert ready, "the stand-in did not announce itself within 10 s"
        line = process.stdout.readline().strip()
        assert line.startswith("JIRA-STANDIN READY http://127.0.0.1:")
        base = line.split()[-1]
        with httpx.Client(base_url=base, auth=("bridge", "token")) as client:
            assert client.get("/rest/api/3/myself").json()["accountType"] == "atlassian"
            issue = client.get("/rest/api/3/issue/SRV-1?fields=status").json()
            assert issue["fields"]["status"]["name"] == "Hotovo"
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()

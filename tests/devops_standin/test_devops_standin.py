"""The Azure DevOps stand-in answers like the service, refuses what it refuses, sends its
service hooks, and reports what it saw."""

from __future__ import annotations

import base64
import json
import select
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import FIXTURES

from .app import create_app
from .state import DevOpsStandin

ROOT = Path(__file__).resolve().parents[2]
PAT = "personal-access-token"
PROJECT = "/example-org/ERP/_apis/wit/workitems"
V = {"api-version": "7.1"}
SAMPLE_ITEM = json.loads((FIXTURES / "azure-devops" / "workitem_get_4711.json").read_text("utf-8"))
SAMPLE_HOOK = json.loads((FIXTURES / "azure-devops" / "servicehook_workitem_updated_done.json").read_text("utf-8"))
HYPERLINK = {"rel": "Hyperlink", "url": "https://jira.example/browse/SRV-412",
             "attributes": {"comment": "Ticket SRV-412"}}
JSON_PATCH = {"content-type": "application/json-patch+json"}


class Receiver:
    """Where service hooks go: records each request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.receive)

    def receive(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, json={"status": "accepted"})


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def standin(receiver: Receiver) -> DevOpsStandin:
    standin = DevOpsStandin(transport=receiver.transport)
    standin.load({"token": PAT, "items": [
        {"id": 4711, "title": "Export faktur selhává pro zahraniční zákazníky", "state": "Committed"},
        {"id": 4712, "type": "Bug", "title": "Tisk dodacích listů", "state": "New"},
    ]})
    standin.set_hook("https://bridge.test/webhooks/devops", "", "hook-secret")
    return standin


def client_of(standin: DevOpsStandin, auth: tuple[str, str] | None = ("", PAT)) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(standin)),
                             base_url="https://dev.azure.test", auth=auth)


@pytest.fixture
async def devops(standin: DevOpsStandin):
    async with client_of(standin) as client:
        yield client


def shape(value: object) -> object:
    """The keys of nested objects, for comparing shapes with a recorded sample."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    return type(value).__name__


async def test_a_work_item_reads_as_the_recorded_sample(devops):
    response = await devops.get(f"{PROJECT}/4711", params=V)
    assert response.status_code == 200
    item = response.json()
    assert set(item) == set(SAMPLE_ITEM) and set(item["fields"]) == set(SAMPLE_ITEM["fields"]) - {
        "Microsoft.VSTS.Common.Priority", "Microsoft.VSTS.Scheduling.Effort"}
    assert (item["id"], item["rev"]) == (4711, 1)
    assert item["fields"]["System.State"] == "Committed"
    assert item["fields"]["System.WorkItemType"] == "Product Backlog Item"
    assert item["url"] == "https://dev.azure.test/example-org/_apis/wit/workItems/4711"
    assert item["_links"]["html"]["href"] == "https://dev.azure.test/example-org/ERP/_workitems/edit/4711"


async def test_a_work_item_reads_the_same_without_the_project_in_the_path(devops):
    response = await devops.get("/example-org/_apis/wit/workItems/4711", params=V)
    assert response.status_code == 200 and response.json()["id"] == 4711


async def test_a_work_item_that_does_not_exist_is_404_tf401232(devops):
    response = await devops.get(f"{PROJECT}/99999", params=V)
    assert response.status_code == 404
    assert response.json() == {
        "$id": "1", "innerException": None,
        "message": "TF401232: Work item 99999 does not exist, or you do not have permissions to read it.",
        "typeName": "Microsoft.TeamFoundation.WorkItemTracking.Server.WorkItemUnauthorizedAccessException, "
                    "Microsoft.TeamFoundation.WorkItemTracking.Server",
        "typeKey": "WorkItemUnauthorizedAccessException", "errorCode": 0, "eventId": 3200,
    }


async def test_another_project_is_404_tf200016(devops):
    response = await devops.get("/example-org/CRM/_apis/wit/workitems/4711", params=V)
    assert response.status_code == 404 and response.json()["message"].startswith(
        "TF200016: The following project does not exist: CRM.")


async def test_the_batch_read_with_omit_has_null_for_a_missing_item(devops):
    params = V | {"ids": "4712,99999,4711", "fields": "System.State,System.Title", "errorPolicy": "omit"}
    response = await devops.get(PROJECT, params=params)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 and body["value"][1] is None
    first, _, last = body["value"]
    assert first == {"id": 4712, "rev": 1, "fields": {"System.State": "New", "System.Title": "Tisk dodacích listů"},
                     "url": "https://dev.azure.test/example-org/_apis/wit/workItems/4712"}
    assert last["fields"] == {"System.State": "Committed",
                              "System.Title": "Export faktur selhává pro zahraniční zákazníky"}


async def test_the_batch_read_without_omit_fails_on_a_missing_item(devops):
    response = await devops.get(PROJECT, params=V | {"ids": "4711,99999"})
    assert response.status_code == 404 and "Work item 99999 does not exist" in response.json()["message"]
    whole = await devops.get(PROJECT, params=V | {"ids": "4711,4712"})
    assert [i["fields"]["System.State"] for i in whole.json()["value"]] == ["Committed", "New"]


@pytest.mark.parametrize(
    "params,message",
    [
        ({"ids": "4711", "fields": "System.State", "$expand": "relations"}, "can not be used with the fields"),
        ({"ids": "4711", "fields": "System.Colour"}, "TF51535: Cannot find field System.Colour."),
        ({"ids": ",".join(str(i) for i in range(1, 202))}, "At most 200"),
        ({"ids": "4711,abc"}, "must be numbers"),
        ({}, "ids parameter is required"),
    ],
)
async def test_a_batch_read_the_service_refuses_is_400(devops, params, message):
    response = await devops.get(PROJECT, params=V | params)
    assert response.status_code == 400 and message in response.json()["message"]


@pytest.mark.parametrize(
    "auth",
    [None, ("", "wrong-token"), ("someone", PAT)],
)
async def test_without_the_token_as_basic_with_an_empty_user_it_is_401(standin, auth):
    async with client_of(standin, auth=auth) as devops:
        response = await devops.get(f"{PROJECT}/4711", params=V)
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Basic")
    bearer = {"authorization": f"Bearer {PAT}"}
    async with client_of(standin, auth=None) as devops:
        assert (await devops.get(f"{PROJECT}/4711", params=V, headers=bearer)).status_code == 401


@pytest.mark.parametrize(
    "version,status,type_key",
    [
        (None, 400, "VssVersionNotSpecifiedException"),
        ("6.0", 400, "VssVersionOutOfRangeException"),
        ("8.0", 400, "VssVersionOutOfRangeException"),
        ("7.2", 400, "VssInvalidPreviewVersionException"),
        ("seven", 400, "VssInvalidApiResourceVersionException"),
        ("7.0", 200, None),
        ("7.1-preview.3", 200, None),
        ("7.2-preview.3", 200, None),
    ],
)
async def test_only_api_version_7_is_served(devops, version, status, type_key):
    response = await devops.get(f"{PROJECT}/4711", params={"api-version": version} if version else {})
    assert response.status_code == status
    if type_key:
        assert response.json()["typeKey"] == type_key


async def test_the_api_version_may_come_in_the_accept_header(devops):
    response = await devops.get(f"{PROJECT}/4711", headers={"accept": "application/json; api-version=7.1"})
    assert response.status_code == 200


async def test_a_hyperlink_is_added_by_json_patch_and_shown_when_relations_are_expanded(devops, standin, receiver):
    patch = [{"op": "add", "path": "/relations/-", "value": HYPERLINK}]
    response = await devops.patch(f"{PROJECT}/4711", params=V, content=json.dumps(patch), headers=JSON_PATCH)
    assert response.status_code == 200
    assert response.json()["rev"] == 2 and response.json()["relations"][0]["url"] == HYPERLINK["url"]
    plain = (await devops.get(f"{PROJECT}/4711", params=V)).json()
    assert "relations" not in plain
    expanded = (await devops.get(f"{PROJECT}/4711", params=V | {"$expand": "relations"})).json()
    (relation,) = expanded["relations"]
    assert relation["rel"] == "Hyperlink" and relation["attributes"]["comment"] == "Ticket SRV-412"
    await standin.drain()
    (hook,) = [json.loads(r.content) for r in receiver.requests]
    assert hook["resource"]["relations"]["added"][0]["url"] == HYPERLINK["url"]
    assert "System.State" not in hook["resource"]["fields"]
    assert hook["resource"]["revisedBy"]["displayName"] == "Ticket Bridge"


async def test_the_same_hyperlink_twice_is_refused_and_kept_once(devops, standin):
    patch = json.dumps([{"op": "add", "path": "/relations/-", "value": HYPERLINK}])
    assert (await devops.patch(f"{PROJECT}/4711", params=V, content=patch, headers=JSON_PATCH)).status_code == 200
    again = await devops.patch(f"{PROJECT}/4711", params=V, content=patch, headers=JSON_PATCH)
    assert again.status_code == 400 and "already" in again.json()["message"]
    assert len(standin.items[4711].relations) == 1 and standin.items[4711].rev == 2


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
async def test_a_patch_that_is_not_json_patch_is_refused_as_the_service_refuses_it(devops, standin, content_type):
    patch = json.dumps([{"op": "add", "path": "/relations/-", "value": HYPERLINK}])
    headers = {"content-type": content_type} if content_type else {}
    response = await devops.patch(f"{PROJECT}/4711", params=V, content=patch, headers=headers)
    assert response.status_code == 400
    assert response.json()["typeKey"] == "VssRequestContentTypeNotSupportedException"
    assert "Valid content types for this method are: application/json-patch+json." in response.json()["message"]
    assert standin.items[4711].relations == [] and standin.items[4711].rev == 1


@pytest.mark.parametrize(
    "patch,message",
    [
        ({"op": "add", "path": "/relations/-", "value": HYPERLINK}, "valid patch document"),  # not a list
        ([{"op": "add", "path": "/relations/-", "value": {"url": "https://x"}}], "WorkItemRelation"),
        ([{"op": "add", "path": "/relations/-", "value": {"rel": "Hyperlink", "url": "SRV-412"}}], "absolute"),
        ([{"op": "remove", "path": "/relations/0"}], "stand-in applies"),
        ([{"op": "replace", "path": "/fields/System.Id", "value": 1}], "read only"),
    ],
)
async def test_a_patch_document_the_service_refuses_changes_nothing(devops, standin, patch, message):
    response = await devops.patch(f"{PROJECT}/4711", params=V, content=json.dumps(patch), headers=JSON_PATCH)
    assert response.status_code == 400 and message in response.json()["message"]
    assert standin.items[4711].rev == 1


async def test_patching_an_item_that_does_not_exist_is_404(devops):
    patch = json.dumps([{"op": "add", "path": "/relations/-", "value": HYPERLINK}])
    response = await devops.patch(f"{PROJECT}/99999", params=V, content=patch, headers=JSON_PATCH)
    assert response.status_code == 404 and response.json()["message"].startswith("TF401232")


async def test_a_state_change_sends_the_hook_in_the_recorded_shape_with_basic_credentials(devops, standin, receiver):
    sent = await devops.post("/_standin/workitems/4711/state", json={"state": "Done"})
    assert sent.status_code == 201
    await standin.drain()
    (request,) = receiver.requests
    assert str(request.url) == "https://bridge.test/webhooks/devops"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b":hook-secret").decode()
    hook = json.loads(request.content)
    assert hook == sent.json()
    assert hook["eventType"] == "workitem.updated" and set(hook) == set(SAMPLE_HOOK)
    assert set(hook["resource"]) == set(SAMPLE_HOOK["resource"])
    assert hook["resource"]["workItemId"] == 4711 and hook["resource"]["revision"]["id"] == 4711
    assert hook["resource"]["fields"]["System.State"] == {"oldValue": "Committed", "newValue": "Done"}
    assert hook["resource"]["revision"]["fields"]["System.State"] == "Done"
    assert hook["resource"]["revisedBy"] == SAMPLE_HOOK["resource"]["revisedBy"]
    assert "State changed from Committed to Done" in hook["detailedMessage"]["text"]
    item = (await devops.get(f"{PROJECT}/4711", params=V)).json()
    assert item["fields"]["System.State"] == "Done" and item["rev"] == 2
    (delivery,) = (await devops.get("/_standin/hook/deliveries")).json()
    assert (delivery["status"], delivery["event"], delivery["item"]) == (200, hook["id"], 4711)


async def test_a_hook_resent_carries_the_same_event_id(devops, standin, receiver):
    await devops.post("/_standin/workitems/4711/state", json={"state": "Done"})
    await standin.drain()
    assert (await devops.post("/_standin/hook/deliveries/0/resend")).status_code == 201
    await standin.drain()
    first, second = (json.loads(r.content) for r in receiver.requests)
    assert first == second


async def test_a_missed_hook_is_not_sent_but_the_item_moves(devops, standin, receiver):
    await devops.post("/_standin/workitems/4711/state", json={"state": "Done", "hook": False})
    await standin.drain()
    assert receiver.requests == [] and standin.items[4711].fields["System.State"] == "Done"


async def test_a_subscription_filtered_on_state_sends_only_state_changes(devops, standin, receiver):
    await devops.post("/_standin/hook", json={"url": "https://bridge.test/webhooks/devops",
                                              "password": "hook-secret", "field": "System.State"})
    patch = json.dumps([{"op": "add", "path": "/relations/-", "value": HYPERLINK}])
    await devops.patch(f"{PROJECT}/4711", params=V, content=patch, headers=JSON_PATCH)
    await devops.post("/_standin/workitems/4711/state", json={"state": "Removed"})
    await standin.drain()
    (hook,) = [json.loads(r.content) for r in receiver.requests]
    assert hook["resource"]["fields"]["System.State"]["newValue"] == "Removed"


async def test_faults_answer_429_with_retry_after_then_the_call_is_served(devops):
    await devops.post("/_standin/faults", json={"path_regex": "/workitems$", "status": 429, "times": 2, "retry_after": 3})
    for _ in range(2):
        refused = await devops.get(PROJECT, params=V | {"ids": "4711"})
        assert refused.status_code == 429 and refused.headers["retry-after"] == "3"
    assert (await devops.get(PROJECT, params=V | {"ids": "4711"})).status_code == 200
    assert (await devops.get("/_standin/faults")).json() == []


async def test_the_call_log_shows_what_was_sent_and_answered(devops):
    patch = [{"op": "add", "path": "/relations/-", "value": HYPERLINK}]
    await devops.patch(f"{PROJECT}/4711", params=V, content=json.dumps(patch), headers=JSON_PATCH)
    await devops.get(f"{PROJECT}/1", params=V)
    first, second = (await devops.get("/_standin/calls")).json()
    assert (first["method"], first["content_type"], first["body"], first["status"]) == (
        "PATCH", "application/json-patch+json", patch, 200)
    assert (second["path"], second["query"], second["status"]) == (f"{PROJECT}/1", V, 404)


async def test_control_creates_items_and_reads_them(devops):
    made = await devops.post("/_standin/workitems", json=[{"title": "Nový export", "type": "Feature"}])
    assert made.status_code == 201
    (item,) = made.json()
    assert (item["type"], item["state"], item["rev"]) == ("Feature", "New", 1)
    assert item["id"] not in (4711, 4712)
    assert (await devops.get(f"/_standin/workitems/{item['id']}")).json() == item
    assert (await devops.get("/_standin/workitems/5")).status_code == 404
    assert (await devops.post("/_standin/workitems", json={"id": 4711})).status_code == 400


def test_the_process_announces_its_url_and_serves_the_api():
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.devops_standin", "--port", "0", "--token", PAT],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "no READY line within 20 s"
        line = process.stdout.readline().strip()
        assert line.startswith("DEVOPS-STANDIN READY http://127.0.0.1:")
        url = line.split()[-1]
        httpx.post(f"{url}/_standin/workitems", json={"id": 4711, "state": "Committed"}).raise_for_status()
        found = httpx.get(f"{url}{PROJECT}/4711", params=V, auth=("", PAT))
        assert found.status_code == 200 and found.json()["fields"]["System.State"] == "Committed"
        assert httpx.get(f"{url}{PROJECT}/4711", params=V, auth=("", "other")).status_code == 401
    finally:
        process.terminate()
        process.wait(10)

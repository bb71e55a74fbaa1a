"""Azure DevOps: service hooks parsed, work items read and linked back (HTTP faked with respx)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import respx

from bridge.config import Settings
from bridge.devlinks.azure_devops import AzureDevOps, devops_client, hook_problem, parse_hook
from bridge.devlinks.base import ItemChange
from bridge.engine import DevItem
from bridge.trackers.base import (
    MalformedDelivery,
    TrackerRejected,
    TrackerUnauthorized,
    TrackerUnavailable,
)
from bridge.trackers.http import RestClient, RetryPolicy
from tests.conftest import FIXTURES

PROJECT = "https://dev.azure.com/acme/ERP"
ITEMS = f"{PROJECT}/_apis/wit/workitems"
FAST = RetryPolicy(attempts=3, backoff=0.0, backoff_max=0.05)
TICKET_URL = "https://acme.atlassian.net/browse/SRV-412"
NO_SUCH_ITEM = {
    "$id": "1",
    "innerException": None,
    "message": "TF401232: Work item 4712 does not exist, or you do not have permissions to read it.",
    "typeName": "Microsoft.TeamFoundation.WorkItemTracking.Server.WorkItemUnauthorizedAccessException, "
    "Microsoft.TeamFoundation.WorkItemTracking.Server",
    "typeKey": "WorkItemUnauthorizedAccessException",
    "errorCode": 0,
    "eventId": 3200,
}


def sample(name: str) -> Any:
    return json.loads((FIXTURES / "azure-devops" / name).read_text(encoding="utf-8"))


def raw(name: str) -> bytes:
    return (FIXTURES / "azure-devops" / name).read_bytes()


def provider(retry: RetryPolicy = FAST) -> AzureDevOps:
    return AzureDevOps(RestClient(PROJECT, token="pat-secret", basic=True), retry=retry)


def work_item(number: int, state: str, title: str = "") -> dict[str, Any]:
    return {"id": number, "rev": 3, "fields": {"System.State": state, "System.Title": title}}


# -- service hooks ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,change",
    [
        ("servicehook_workitem_updated_done.json", ItemChange("4711", "Done", "13")),
        # workItemId 0: the item is the revision's; the change, not the lagging revision, says the state
        ("servicehook_workitem_updated_id_in_revision.json", ItemChange("5", "Approved", "2")),
        ("servicehook_workitem_created.json", ItemChange("5", "New", "1")),
        ("servicehook_workitem_restored.json", ItemChange("5", "New", "1")),
    ],
)
def test_real_work_item_hooks_name_the_item_and_its_state(name, change):
    assert parse_hook(raw(name)) == change
    assert hook_problem(sample(name)) is None


def test_an_update_that_leaves_the_state_says_the_revisions_state():
    hook = sample("servicehook_workitem_updated_done.json")
    del hook["resource"]["fields"]["System.State"]
    assert parse_hook(json.dumps(hook).encode()).state == "Done"


def test_a_hook_that_names_no_state_leaves_it_to_be_asked():
    hook = sample("servicehook_workitem_updated_done.json")
    del hook["resource"]["fields"]["System.State"]
    del hook["resource"]["revision"]["fields"]["System.State"]
    assert parse_hook(json.dumps(hook).encode()) == ItemChange("4711", None, "13")


@pytest.mark.parametrize(
    "name,reason",
    [
        ("servicehook_workitem_deleted.json", "'workitem.deleted' is not one the bridge follows"),
        ("servicehook_workitem_commented.json", "'workitem.commented' is not one the bridge follows"),
        ("servicehook_tfvc_checkin.json", "'tfvc.checkin' is not one the bridge follows"),
    ],
)
def test_real_hooks_of_other_events_are_refused_with_the_reason(name, reason):
    with pytest.raises(MalformedDelivery, match=reason):
        parse_hook(raw(name))
    assert reason in (hook_problem(sample(name)) or "")


@pytest.mark.parametrize(
    "body,reason",
    [
        (b"{", "body is not JSON"),
        (b"[]", "'eventType' is missing"),
        (b'{"eventType": 7}', "'eventType' is missing"),
        (b'{"eventType": "workitem.updated"}', "'resource' is missing"),
        (b'{"eventType": "workitem.updated", "resource": {"id": 2, "workItemId": 0}}', "'resource.workItemId'"),
        (b'{"eventType": "workitem.updated", "resource": {"workItemId": true}}', "'resource.workItemId'"),
        (b'{"eventType": "workitem.updated", "resource": {"workItemId": 99999999999}}', "'resource.workItemId'"),
    ],
)
def test_bodies_that_are_no_work_item_hook_say_why(body, reason):
    with pytest.raises(MalformedDelivery, match=reason):
        parse_hook(body)
    assert reason in (hook_problem(body) or "")


def test_an_updates_own_number_is_never_taken_for_the_item():
    hook = sample("servicehook_workitem_updated_id_in_revision.json")
    del hook["resource"]["revision"]
    assert "'resource.workItemId'" in (hook_problem(hook) or "")  # resource.id 2 is update no. 2


# -- reading items ---------------------------------------------------------------------------
async def test_the_client_sends_the_token_as_basic_password_with_no_user():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"count": 0, "value": []})

    settings = Settings(devops_url=PROJECT, devops_token="pat-secret", _env_file=None)
    await AzureDevOps(devops_client(settings, transport=httpx.MockTransport(answer))).items(["1"])
    assert str(seen[0].url).startswith(ITEMS + "?")
    assert seen[0].headers["authorization"] == "Basic " + base64.b64encode(b":pat-secret").decode()


@respx.mock
async def test_items_come_with_state_title_and_the_web_url():
    route = respx.get(ITEMS).respond(json=sample("workitems_batch_expand_all.json"))
    found = await provider().items(["297", "299", "300"])
    assert found["297"] == DevItem(
        "297",
        "New",
        "Customer can sign in using their Microsoft Account",
        "https://dev.azure.com/fabrikam/web/wi.aspx?pcguid=d81542e4-cdfa-4333-b082-1ae2d6c3ad16&id=297",
    )
    assert {i.state for i in found.values()} == {"New", "To Do"}
    sent = route.calls.last.request
    assert sent.url.params["ids"] == "297,299,300"
    assert sent.url.params["fields"] == "System.State,System.Title"
    assert sent.url.params["errorPolicy"] == "omit"
    assert sent.url.params["api-version"] == "7.1"
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(b":pat-secret").decode()


@respx.mock
async def test_items_without_a_web_link_open_in_the_project():
    respx.get(ITEMS).respond(json={"count": 1, "value": [work_item(4711, "Committed")]})
    found = await provider().items(["4711"])
    assert found["4711"].url == f"{PROJECT}/_workitems/edit/4711"


@respx.mock
async def test_ids_go_200_to_a_call_and_missing_items_are_left_out():
    def answer(request: httpx.Request) -> httpx.Response:
        asked = [int(n) for n in request.url.params["ids"].split(",")]
        # errorPolicy=omit: an item that does not exist is null in its place
        return httpx.Response(200, json={"count": len(asked), "value": [
            work_item(n, "Done") if n % 3 else None for n in asked
        ]})

    route = respx.get(ITEMS).mock(side_effect=answer)
    found = await provider().items([str(n) for n in range(1, 451)])
    assert [len(c.request.url.params["ids"].split(",")) for c in route.calls] == [200, 200, 50]
    assert set(found) == {str(n) for n in range(1, 451) if n % 3}


@respx.mock
async def test_ids_that_cannot_be_work_items_are_left_out_without_asking():
    route = respx.get(ITEMS).respond(json={"count": 1, "value": [work_item(4711, "Done")]})
    found = await provider().items(["04711", "4711", "PBI-4711", "0", "99999999999", "١٢", "../1"])
    assert list(found) == ["04711"]  # under the id as the ticket gave it
    assert route.calls.last.request.url.params["ids"] == "4711"
    assert await provider().items(["abc"]) == {}
    assert route.call_count == 1


@respx.mock
async def test_a_batch_refused_for_a_missing_item_is_asked_item_by_item():
    respx.get(ITEMS).respond(404, json=NO_SUCH_ITEM)  # a server that does not honour errorPolicy
    respx.get(f"{ITEMS}/4711").respond(json=sample("workitem_get_4711.json"))
    respx.get(f"{ITEMS}/4712").respond(404, json=NO_SUCH_ITEM)
    respx.get(f"{ITEMS}/12").respond(json=sample("workitem_get_12.json"))
    found = await provider().items(["4711", "4712", "12"])
    assert sorted(found) == ["12", "4711"]
    assert found["4711"].state == "Committed"
    assert found["4711"].url == "https://dev.azure.com/example-org/ERP/_workitems/edit/4711"
    assert (found["12"].state, found["12"].title) == ("Active", "Epic 2")


@respx.mock
async def test_a_404_that_is_not_a_missing_item_is_an_error_not_an_absence():
    respx.get(ITEMS).respond(404, json={
        "message": "TF200016: The following project does not exist: ERP.", "typeKey": "ProjectDoesNotExistException",
    })
    with pytest.raises(TrackerRejected, match="TF200016"):
        await provider().items(["4711"])


@respx.mock
async def test_an_answer_without_the_state_is_refused_not_guessed():
    respx.get(ITEMS).respond(json=sample("workitems_batch_fields.json"))  # fields without System.State
    with pytest.raises(TrackerRejected, match="without an id or a state"):
        await provider().items(["297", "299", "300"])


@respx.mock
async def test_a_token_not_accepted_is_unauthorized_and_never_repeated_in_the_error():
    respx.get(ITEMS).respond(401, text="")
    with pytest.raises(TrackerUnauthorized) as caught:
        await provider().items(["4711"])
    assert "pat-secret" not in str(caught.value)
    assert base64.b64encode(b":pat-secret").decode() not in str(caught.value)


@respx.mock
async def test_a_sign_in_page_instead_of_json_is_an_unaccepted_token():
    respx.get(ITEMS).respond(203, html="<html><title>Azure DevOps Services | Sign In</title></html>")
    with pytest.raises(TrackerUnauthorized, match="BRIDGE_DEVOPS_TOKEN"):
        await provider().items(["4711"])


@respx.mock
async def test_throttling_is_waited_out_as_retry_after_says():
    route = respx.get(ITEMS)
    route.side_effect = [
        httpx.Response(429, headers={"Retry-After": "0"}, json={"message": "TF400733: throttled"}),
        httpx.Response(200, json={"count": 1, "value": [work_item(4711, "Done")]}),
    ]
    assert list(await provider().items(["4711"])) == ["4711"]
    assert route.call_count == 2


@respx.mock
async def test_throttling_past_the_attempts_tells_when_to_come_back():
    respx.get(ITEMS).respond(429, headers={"Retry-After": "7"}, json={"message": "TF400733: throttled"})
    with pytest.raises(TrackerUnavailable) as caught:
        await provider(RetryPolicy(attempts=1)).items(["4711"])
    assert caught.value.retry_after == 7.0 and caught.value.status == 429


# -- linking back ----------------------------------------------------------------------------
class Board:
    """One work item whose relations grow as PATCHes add them, as Azure DevOps keeps them."""

    def __init__(self, item: dict[str, Any]) -> None:
        self.item = item
        self.patches: list[httpx.Request] = []

    def read(self, request: httpx.Request) -> httpx.Response:
        assert request.url.params["$expand"] == "relations"
        return httpx.Response(200, json=self.item)

    def patch(self, request: httpx.Request) -> httpx.Response:
        self.patches.append(request)
        for op in json.loads(request.content):
            self.item.setdefault("relations", []).append(op["value"])
        return httpx.Response(200, json=self.item)


@respx.mock
async def test_the_ticket_is_linked_from_the_work_item_once():
    board = Board(sample("workitem_get_4711.json"))
    respx.get(f"{ITEMS}/4711").mock(side_effect=board.read)
    respx.patch(f"{ITEMS}/4711").mock(side_effect=board.patch)
    ado = provider()
    await ado.link_back("4711", "SRV-412", TICKET_URL)
    await ado.link_back("4711", "SRV-412", TICKET_URL)  # a repeated delivery, a retried action
    assert len(board.patches) == 1
    sent = board.patches[0]
    assert sent.headers["content-type"] == "application/json-patch+json"
    assert sent.url.params["api-version"] == "7.1"
    assert json.loads(sent.content) == [
        {
            "op": "add",
            "path": "/relations/-",
            "value": {"rel": "Hyperlink", "url": TICKET_URL, "attributes": {"comment": "SRV-412"}},
        }
    ]


@respx.mock
async def test_an_existing_hyperlink_among_other_relations_is_kept_as_the_link():
    item = sample("workitem_299_with_hyperlink.json")
    url = next(r["url"] for r in item["relations"] if r["rel"] == "Hyperlink")
    respx.get(f"{ITEMS}/299").respond(json=item)
    patch = respx.patch(f"{ITEMS}/299").respond(json=item)
    await provider().link_back("299", "SRV-1", url + "/")
    assert patch.call_count == 0


@respx.mock
async def test_another_tickets_hyperlink_does_not_count_as_this_ones():
    board = Board(sample("workitem_299_with_hyperlink.json"))
    respx.get(f"{ITEMS}/299").mock(side_effect=board.read)
    respx.patch(f"{ITEMS}/299").mock(side_effect=board.patch)
    await provider().link_back("299", "SRV-412", TICKET_URL)
    assert len(board.patches) == 1


@respx.mock
async def test_linking_an_item_that_does_not_exist_is_refused_with_azures_reason():
    respx.get(f"{ITEMS}/4712").respond(404, json=NO_SUCH_ITEM)
    with pytest.raises(TrackerRejected, match="TF401232"):
        await provider().link_back("4712", "SRV-412", TICKET_URL)


@respx.mock
async def test_the_link_is_sent_once_per_call_so_a_retry_first_looks_again():
    respx.get(f"{ITEMS}/4711").respond(json=sample("workitem_get_4711.json"))
    patch = respx.patch(f"{ITEMS}/4711").respond(503)
    with pytest.raises(TrackerUnavailable):
        await provider().link_back("4711", "SRV-412", TICKET_URL)
    assert patch.call_count == 1


async def test_a_number_that_names_no_work_item_is_refused_without_a_call():
    with pytest.raises(TrackerRejected, match="not an Azure DevOps work item number"):
        await provider().link_back("PBI 4711", "SRV-412", TICKET_URL)

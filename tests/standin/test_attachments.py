"""Attachments on the stand-in: listed as Jira lists them, added by a person with the webhook
Jira Cloud sends, deleted through the REST API the bridge calls."""

from __future__ import annotations

import json

import httpx

from bridge.trackers.jira import parse_delivery
from tests.standin.test_standin import CUSTOMER, client_of, seeded

BRIDGE = {"accountId": "5f2a9c0d1e7b4a00694b7e21"}


async def test_an_attachment_a_customer_adds_is_listed_and_reported_as_jira_cloud_does() -> None:
    delivered: list[dict] = []

    def hook(request: httpx.Request) -> httpx.Response:
        delivered.append(json.loads(request.content))
        return httpx.Response(200)

    standin = seeded(httpx.MockTransport(hook))
    standin.set_webhook("https://bridge.test/webhooks/jira")
    async with client_of(standin, auth=("bridge@example.com", "token")) as jira:
        added = await jira.post("/_standin/issues/SRV-412/attachments",
                                json={"filename": "virus.exe", "size": 40960, "by": CUSTOMER})
        assert added.status_code == 201
        await standin.drain()
        (listed,) = (await jira.get("/rest/api/3/issue/SRV-412", params={"fields": "attachment"})).json()[
            "fields"]["attachment"]
    assert {k: listed[k] for k in ("filename", "size", "mimeType")} == {
        "filename": "virus.exe", "size": 40960, "mimeType": "application/x-msdownload"}
    assert listed["author"]["accountId"] == CUSTOMER["accountId"] and "thumbnail" not in listed
    (body,) = delivered
    (item,) = body["changelog"]["items"]
    assert item == {"field": "Attachment", "fieldtype": "jira", "fieldId": "attachment", "from": None,
                    "fromString": None, "to": listed["id"], "toString": "virus.exe"}
    event = parse_delivery(body)  # what the bridge makes of it
    assert (event.kind.value, event.actor.role.value, event.attached) == ("updated", "customer", (listed["id"],))
    assert event.snapshot is not None and event.snapshot.fields["attachment"][0]["id"] == listed["id"]


async def test_deleting_an_attachment_answers_204_then_404_and_reports_the_bridge_removed_it() -> None:
    delivered: list[dict] = []

    def hook(request: httpx.Request) -> httpx.Response:
        delivered.append(json.loads(request.content))
        return httpx.Response(200)

    standin = seeded(httpx.MockTransport(hook))
    standin.add_issue({"key": "SRV-413", "status": "Na klientovi",
                       "attachments": [{"id": "10001", "filename": "virus.exe", "size": 10, "by": CUSTOMER},
                                       {"id": "10002", "filename": "scan.png", "size": 10, "by": CUSTOMER}]})
    standin.set_webhook("https://bridge.test/webhooks/jira")
    async with client_of(standin, auth=("bridge@example.com", "token")) as jira:
        assert (await jira.delete("/rest/api/3/attachment/10001")).status_code == 204
        again = await jira.delete("/rest/api/2/attachment/10001")
        await standin.drain()
        state = (await jira.get("/_standin/issues/SRV-413")).json()
    assert again.status_code == 404 and "does not exist" in again.json()["errorMessages"][0]
    assert [a["filename"] for a in state["attachments"]] == ["scan.png"]
    (body,) = delivered
    assert body["user"]["accountId"] == BRIDGE["accountId"]
    assert body["changelog"]["items"][0]["from"] == "10001" and body["changelog"]["items"][0]["to"] is None
    assert parse_delivery(body).attached == ()


async def test_a_seed_jira_could_not_hold_is_refused() -> None:
    async with client_of(seeded()) as jira:
        answer = await jira.post("/_standin/issues", json={"key": "SRV-9", "attachments": [{"filename": "a", "size": -1}]})
        assert answer.status_code == 400
        assert (await jira.post("/_standin/issues/SRV-404/attachments", json={"filename": "a.pdf", "size": 1})).status_code == 404

"""The stand-in creates issues as Jira does (the creation delivery, the request's channel) and
edits their fields through `PUT /issue/{key}` as Jira does, refusals included."""

from __future__ import annotations

import json

import httpx

from bridge.trackers.jira_parsing import parse_delivery

from .state import JiraStandin
from .test_standin import CUSTOMER, Bridge, client_of

EMAILED = {"key": "CRM-7", "issuetype": "CRM", "user": CUSTOMER, "channel": "email",
           "fields": {"summary": "Nejde export", "priority": "High"}}


async def created(standin: JiraStandin, jira: httpx.AsyncClient, request: dict) -> dict:
    await jira.post("/_standin/webhook", json={"url": "http://bridge.test/webhooks/jira"})
    response = await jira.post("/_standin/create", json=request)
    assert response.status_code == 201, response.text
    await standin.drain()
    return response.json()


async def test_a_created_issue_is_delivered_as_jira_cloud_sends_it_by_its_creator() -> None:
    bridge = Bridge()
    standin = JiraStandin(transport=bridge.transport)
    async with client_of(standin, auth=("bridge@example.com", "token")) as jira:
        await created(standin, jira, {**EMAILED, "key": "TGS-9", "request_type": "Potřebuji podporu"})
    (request,) = bridge.received
    delivery = json.loads(request.content)
    assert (delivery["webhookEvent"], delivery["issue_event_type_name"]) == ("jira:issue_created", "issue_created")
    assert delivery["user"]["accountType"] == "customer"
    items = {item["fieldId"]: item["toString"] for item in delivery["changelog"]["items"]}
    assert items == {"summary": "Nejde export", "status": "Open", "priority": "High"}
    event = parse_delivery(delivery)  # what the bridge makes of it
    assert (event.kind.value, event.ticket, event.request_type) == ("created", "TGS-9", "Potřebuji podporu")
    assert event.snapshot is not None and event.snapshot.fields["priority"]["name"] == "High"


async def test_the_channel_is_a_property_read_with_the_issue_never_a_field() -> None:
    standin = JiraStandin()
    async with client_of(standin, auth=("bridge@example.com", "token")) as jira:
        delivery = await created(standin, jira, EMAILED)
        assert "request.channel.type" not in json.dumps(delivery)
        read = (await jira.get("/rest/api/3/issue/CRM-7", params={"fields": "status",
                                                                  "properties": "request.channel.type"})).json()
        plain = (await jira.get("/rest/api/3/issue/CRM-7")).json()
    assert read["properties"] == {"request.channel.type": {"value": "email"}}
    assert "properties" not in plain


async def test_fields_are_edited_and_the_change_is_delivered_by_the_editor() -> None:
    bridge = Bridge()
    standin = JiraStandin(transport=bridge.transport)
    async with client_of(standin, auth=("bridge@example.com", "token")) as jira:
        await created(standin, jira, EMAILED)
        edited = await jira.put("/rest/api/3/issue/CRM-7", json={"fields": {"priority": {"name": "Medium"}}})
        again = await jira.put("/rest/api/3/issue/CRM-7", json={"fields": {"priority": {"id": "3"}}})
        await standin.drain()
        fields = (await jira.get("/rest/api/3/issue/CRM-7", params={"fields": "priority"})).json()["fields"]
    assert (edited.status_code, again.status_code) == (204, 204)
    assert fields["priority"]["name"] == "Medium" and fields["priority"]["self"].endswith("/priority/3")
    created_delivery, updated = (json.loads(r.content) for r in bridge.received)  # the same value again: no delivery
    assert updated["webhookEvent"] == "jira:issue_updated" and updated["user"]["accountId"] == standin.account["accountId"]
    assert updated["changelog"]["items"] == [{"field": "priority", "fieldtype": "jira", "fieldId": "priority",
                                              "from": "2", "fromString": "High", "to": "3", "toString": "Medium"}]


async def test_an_edit_jira_would_refuse_is_refused() -> None:
    standin = JiraStandin()
    async with client_of(standin, auth=("bridge@example.com", "token")) as jira:
        await created(standin, jira, EMAILED)
        unknown = await jira.put("/rest/api/3/issue/CRM-7", json={"fields": {"customfield_99999": "x"}})
        bad = await jira.put("/rest/api/3/issue/CRM-7", json={"fields": {"priority": {"name": "Urgent"}}})
        missing = await jira.put("/rest/api/3/issue/CRM-99", json={"fields": {"priority": {"name": "Low"}}})
    assert unknown.status_code == 400 and "customfield_99999" in unknown.json()["errors"]
    assert bad.status_code == 400 and bad.json()["errors"] == {"priority": "The priority selected is invalid."}
    assert missing.status_code == 404
    assert standin.issues["CRM-7"].fields["priority"]["name"] == "High"

"""A request's channel read from Jira, fields set with `PUT /issue`, and the handler that
sets them once (HTTP faked with respx)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from typing import Any

import pytest
import respx

from bridge.engine import FieldsAction, Need, Verdict, decide
from bridge.handlers import FieldUpdates
from bridge.store import ActionOutcome, PendingAction
from bridge.trackers.base import OfflineTracker, TrackerUnavailable
from bridge.trackers.http import RestClient, RetryPolicy
from bridge.trackers.jira import JiraTracker, parse_delivery
from bridge.workflows.model import Workflow
from tests.conftest import FIXTURES

BASE = "https://jira.test"
EMAILED = {"properties": {"request.channel.type": {"value": "email"}}}


def tracker(deployment: str = "cloud", attempts: int = 1) -> JiraTracker:
    return JiraTracker(RestClient(BASE, user="bot@x", token="t"), deployment=deployment,
                       retry=RetryPolicy(attempts, backoff=0))


def issue(key: str = "CRM-7", **fields: Any) -> dict[str, Any]:
    status = {"name": "Open", "id": "1"}
    return {"id": "20417", "key": key, "fields": {"status": status, **fields}}


def medium(version: str = "3") -> dict[str, str]:
    return {"self": f"{BASE}/rest/api/{version}/priority/3", "name": "Medium", "id": "3"}


# -- the channel ------------------------------------------------------------------------------
@respx.mock
@pytest.mark.parametrize("deployment,api", [("cloud", "3"), ("datacenter", "2")])
async def test_the_channel_is_the_requests_property_read_with_the_issue(deployment: str, api: str):
    route = respx.get(f"{BASE}/rest/api/{api}/issue/CRM-7").respond(200, json={**issue(), **EMAILED})
    assert await tracker(deployment).channel("CRM-7") == "email"
    assert dict(route.calls.last.request.url.params) == {"fields": "status", "properties": "request.channel.type"}


@respx.mock
@pytest.mark.parametrize("answer", [{}, {"properties": {}}, {"properties": {"request.channel.type": {"value": ""}}}])
async def test_an_issue_outside_a_service_project_has_no_channel(answer: dict):
    respx.get(f"{BASE}/rest/api/3/issue/CRM-7").respond(200, json={**issue(), **answer})
    assert await tracker().channel("CRM-7") is None


@respx.mock
async def test_reading_the_channel_is_retried_while_jira_is_down():
    route = respx.get(f"{BASE}/rest/api/3/issue/CRM-7")
    route.side_effect = [respx.MockResponse(503), respx.MockResponse(200, json={**issue(), **EMAILED})]
    assert await tracker(attempts=2).channel("CRM-7") == "email"


@respx.mock
async def test_the_real_creation_delivery_leaves_the_channel_to_be_asked():
    """Cloud's `jira:issue_created` carries the fields, never the channel: the rule asks for
    it, and once Jira says `email` the priority is set."""
    body = json.loads((FIXTURES / "jira" / "real" / "cloud_issue_created_with_changelog.json").read_text("utf-8"))
    event = parse_delivery(body)
    wf = Workflow.model_validate({
        "name": "kan", "applies_to": {"issue_types": ["Task"]}, "statuses": {"todo": "To Do"},
        "initial": "todo", "flow": {"todo": []},
        "on_create": {"by_channel": [{"channel": "email", "set": {"priority": "Low"}}]},
    })
    assert decide(event, wf).needs == {Need.TICKET, Need.CHANNEL}
    respx.get(f"{BASE}/rest/api/3/issue/KAN-3", params={"properties": "request.channel.type"}).respond(
        200, json={**issue("KAN-3"), **EMAILED})
    respx.get(f"{BASE}/rest/api/3/issue/KAN-3").respond(200, json=issue("KAN-3", priority=medium()))
    jira = tracker()
    ticket = replace(await jira.ticket("KAN-3", ["priority"]), channel=await jira.channel("KAN-3"))
    decision = decide(event, wf, ticket)
    assert decision.verdict is Verdict.CORRECTED
    assert decision.actions == (FieldsAction("KAN-3", {"priority": {"name": "Low"}}, "channel-field", {"priority": "Medium"}),)


# -- setting fields ---------------------------------------------------------------------------
@respx.mock
@pytest.mark.parametrize("deployment,api", [("cloud", "3"), ("datacenter", "2")])
async def test_fields_are_set_with_put_issue(deployment: str, api: str):
    route = respx.put(f"{BASE}/rest/api/{api}/issue/CRM-7").respond(204)
    await tracker(deployment).set_fields("CRM-7", {"priority": {"name": "Medium"}})
    assert json.loads(route.calls.last.request.content) == {"fields": {"priority": {"name": "Medium"}}}


@respx.mock
async def test_a_field_update_is_sent_once_per_call():
    route = respx.put(f"{BASE}/rest/api/3/issue/CRM-7").respond(503)
    with pytest.raises(TrackerUnavailable):
        await tracker(attempts=5).set_fields("CRM-7", {"priority": {"name": "Medium"}})
    assert route.call_count == 1


async def test_with_no_tracker_there_is_no_channel_and_fields_wait_for_one():
    offline = OfflineTracker("jira", parse_delivery)  # type: ignore[arg-type]
    assert await offline.channel("CRM-7") is None
    with pytest.raises(TrackerUnavailable, match="no tracker configured"):
        await offline.set_fields("CRM-7", {"priority": {"name": "Medium"}})


# -- the handler ------------------------------------------------------------------------------
def pending(**fields: Any) -> PendingAction:
    action = FieldsAction("CRM-7", fields, "channel-field", {"priority": "High"})
    return PendingAction(1, "jira:d1:0:fields", "fields", "CRM-7", asdict(action))


@respx.mock
async def test_a_retry_finds_the_field_already_set_and_sends_nothing():
    read = respx.get(f"{BASE}/rest/api/3/issue/CRM-7").respond(200, json=issue(priority=medium()))
    put = respx.put(f"{BASE}/rest/api/3/issue/CRM-7").respond(204)
    found = await FieldUpdates(tracker()).look_up(pending(priority={"name": "Medium"}))
    assert found == (ActionOutcome.DONE, None) and put.call_count == 0
    assert "priority" in read.calls.last.request.url.params["fields"]


@respx.mock
async def test_a_retry_that_finds_the_old_value_sends_the_update():
    respx.get(f"{BASE}/rest/api/3/issue/CRM-7").respond(200, json=issue(priority={"name": "High", "id": "2"}))
    put = respx.put(f"{BASE}/rest/api/3/issue/CRM-7").respond(204)
    handler = FieldUpdates(tracker())
    action = pending(priority={"name": "Medium"})
    assert await handler.look_up(action) is None
    await handler.send(action)
    assert json.loads(put.calls.last.request.content) == {"fields": {"priority": {"name": "Medium"}}}

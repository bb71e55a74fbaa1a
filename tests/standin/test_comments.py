"""A person's comment reaches the webhook as Jira delivers one: Cloud's with a trimmed issue,
Data Center's without the issue."""

from __future__ import annotations

import json

from bridge.engine import Kind, Role
from bridge.trackers.jira import parse_delivery
from tests.conftest import load_fixture

from .test_standin import CUSTOMER, Bridge, client_of, seeded

REQUEST_TYPE = {"customfield_10010": {"requestType": {"id": "12", "name": "Něco mi nefunguje"}}}


async def comment(payload: dict, deployment: str = "cloud") -> tuple[Bridge, dict, dict]:
    bridge = Bridge()
    standin = seeded(bridge.transport)
    standin.issues["SRV-412"].fields.update(REQUEST_TYPE)
    async with client_of(standin) as jira:
        await jira.post("/_standin/webhook", json={"url": "http://bridge.test/webhooks/jira", "deployment": deployment})
        made = await jira.post("/_standin/issues/SRV-412/comment", json=payload)
        assert made.status_code == 201, made.text
        await standin.drain()
        state = (await jira.get("/_standin/issues/SRV-412")).json()
    return bridge, made.json(), state


async def test_a_customers_comment_is_delivered_as_clouds_comment_created_with_a_trimmed_issue() -> None:
    bridge, sent, state = await comment({"body": "Posílám výpis z exportu.", "user": CUSTOMER})
    (request,) = bridge.received
    delivered = json.loads(request.content)
    assert delivered == sent and state["comments"][0]["body"] == "Posílám výpis z exportu."
    recorded = load_fixture("comment_created_by_customer.json")
    assert delivered.keys() == recorded.keys()
    assert delivered["comment"]["jsdPublic"] is True
    assert set(delivered["issue"]["fields"]) <= set(recorded["issue"]["fields"]), "only what Jira shows"
    event = parse_delivery(delivered)
    assert (event.kind, event.ticket, event.actor.role, event.public) == (Kind.COMMENTED, "SRV-412", Role.CUSTOMER, True)
    assert event.ticket_id == "20417" and event.to_status == "Na klientovi"
    assert event.request_type is None, "the request type is left out, as Jira leaves it out"


async def test_an_internal_note_is_delivered_as_not_public() -> None:
    bridge, sent, _ = await comment({"body": "Interní poznámka", "internal": True})
    assert sent["comment"]["jsdPublic"] is False
    assert parse_delivery(json.loads(bridge.received[0].content)).public is False


async def test_data_center_names_the_issue_only_in_the_comments_address() -> None:
    bridge, sent, _ = await comment({"body": "Odpověď", "user": CUSTOMER}, deployment="datacenter")
    assert "issue" not in sent
    event = parse_delivery(json.loads(bridge.received[0].content))
    assert (event.ticket, event.ticket_id, event.kind) == (None, "20417", Kind.COMMENTED)


async def test_a_comment_can_be_kept_without_a_delivery() -> None:
    bridge, _, state = await comment({"body": "Bez webhooku", "user": CUSTOMER, "webhook": False})
    assert bridge.received == [] and len(state["comments"]) == 1

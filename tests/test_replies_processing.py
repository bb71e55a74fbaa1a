"""Replies through the whole loop in one process: what a customer's comment costs in tracker
calls, and who a comment is recorded as (what the attention queue reads)."""

from __future__ import annotations

from bridge.trackers.base import OfflineTracker
from bridge.trackers.jira import parse_delivery
from tests.conftest import load_fixture
from tests.standin.comments import delivery
from tests.test_processing import Harness, harness  # noqa: F401  (the fixture)

CUSTOMER = {"accountId": "qm:1", "accountType": "customer", "displayName": "Jana Nováková"}
AGENT = {"accountId": "agent-1", "accountType": "atlassian", "displayName": "Petr Agent"}
BUG = {"customfield_10010": {"requestType": {"id": "12", "name": "Něco mi nefunguje"}}}


def waiting_request(h: Harness, key: str = "SUP-1") -> None:
    h.standin.set_workflow({"Waiting for customer": [{"id": "61", "name": "Replied", "to": "Waiting for support"}]})
    h.standin.add_issue({"key": key, "id": "30001", "status": "Waiting for customer", "project": "SUP",
                         "issuetype": "[System] Service request", "fields": BUG})


async def comment(h: Harness, key: str, user: dict) -> None:
    issue = h.standin.issues[key]
    made = h.standin.add_comment(issue, {"body": "Tady je odpověď."}, "http://jira.test", "2", author=user)
    await h.deliver(delivery(h.standin, issue, made, "http://jira.test"))
    await h.process()


async def test_a_trimmed_reply_reads_the_ticket_twice_and_moves_it_once(harness):
    waiting_request(harness)
    await comment(harness, "SUP-1", CUSTOMER)
    assert harness.rest_calls() == [
        ("GET", "/rest/api/3/issue/30001"),  # which workflow: the request type
        ("GET", "/rest/api/3/issue/SUP-1"),  # where it is now, and the way to the team
        ("POST", "/rest/api/3/issue/SUP-1/transitions"),
    ]
    assert harness.standin.issues["SUP-1"].status == "Waiting for support"


async def test_the_bridges_own_comment_is_recorded_as_the_bridges_not_the_teams(harness):
    waiting_request(harness)
    await comment(harness, "SUP-1", harness.standin.account)
    await comment(harness, "SUP-1", AGENT)
    assert [d["actor_role"] for d in reversed(harness.decisions("SUP-1"))] == ["bridge", "agent"]


async def test_without_a_tracker_a_trimmed_reply_is_judged_as_delivered():
    event = parse_delivery(load_fixture("comment_created_by_customer.json"))
    offline = OfflineTracker("jira", parse_delivery)
    assert await offline.resolve(event) is event

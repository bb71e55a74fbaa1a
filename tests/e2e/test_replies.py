"""Customers' replies through the real service, against the Jira stand-in: a public comment by
the customer on a waiting ticket moves it back to the team; nothing else does."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import CUSTOMER, Bridge, decided, wait_until

pytestmark = pytest.mark.e2e

AGENT = {"accountId": "agent-1", "accountType": "atlassian", "displayName": "Petr Agent"}
TRANSITIONS = {
    "Waiting for customer": [{"id": "61", "name": "Customer replied", "to": "Waiting for support"},
                             {"id": "62", "name": "To PM", "to": "Waiting for PM"}],
    "Waiting for PM": [{"id": "63", "name": "Back to support", "to": "Waiting for support"}],
    "Answered": [{"id": "71", "name": "Customer answered", "to": "In Progress"}],
}
BUG = {"customfield_10010": {"requestType": {"id": "12", "name": "Něco mi nefunguje"}}}


@pytest.fixture
def service(jira, bridge: Bridge) -> Bridge:
    jira("POST", "/workflow", {"transitions": TRANSITIONS})
    return bridge


def targito(jira, key: str, status: str = "Waiting for customer") -> None:
    """A portal request: its workflow is chosen by the request type, which Jira leaves out of
    comment deliveries."""
    jira("POST", "/issues", {"key": key, "status": status, "project": "SUP",
                             "issuetype": "[System] Service request", "fields": BUG})


def comment(jira, key: str, user: dict | None, **extra: object) -> dict:
    """`user` comments on the ticket (None: the bridge's own account)."""
    return jira("POST", f"/issues/{key}/comment", {"body": "Posílám, co jste chtěli.", "user": user, **extra})




def test_a_customers_reply_moves_a_portal_request_back_to_support_without_a_comment(jira, service):
    targito(jira, "SUP-1")
    comment(jira, "SUP-1", CUSTOMER)
    reply = decided(service, "SUP-1", "reply")
    assert (reply["verdict"], reply["workflow"], reply["actor_role"]) == ("returned", "targito-support", "customer")
    assert [(a["kind"], a["outcome"]) for a in reply["actions"]] == [("transition", "done")]
    ticket = jira("GET", "/issues/SUP-1")
    assert ticket["status"] == "Waiting for support"
    assert [c["author"]["displayName"] for c in ticket["comments"]] == ["Jana Nováková"], "no comment of the bridge's"
    decided(service, "SUP-1", "own-change")  # the move's own delivery, not judged


def test_a_customers_reply_moves_a_crm_ticket_back_to_in_progress(jira, service):
    jira("POST", "/issues", {"key": "CRM-1", "status": "Answered", "project": "CRM", "issuetype": "CRM"})
    comment(jira, "CRM-1", CUSTOMER)
    assert decided(service, "CRM-1", "reply")["verdict"] == "returned"
    assert jira("GET", "/issues/CRM-1")["status"] == "In Progress"


@pytest.mark.parametrize(
    ("user", "extra", "says"),
    [(AGENT, {}, ""), (CUSTOMER, {"internal": True}, "internal")],
    ids=["agent", "internal"],
)
def test_an_agents_comment_or_an_internal_note_moves_nothing(jira, service, user, extra, says):
    targito(jira, "SUP-2")
    comment(jira, "SUP-2", user, **extra)
    (judged,) = wait_until(lambda: service.api("/api/decisions", ticket="SUP-2"))
    assert judged["verdict"] == "ignored" and not judged["actions"] and says in judged["reason"]
    assert jira("GET", "/issues/SUP-2")["status"] == "Waiting for customer"


def test_a_reply_delivered_after_the_team_moved_the_ticket_on_leaves_it_there(jira, service):
    targito(jira, "SUP-3")
    late = comment(jira, "SUP-3", CUSTOMER, webhook=False)
    jira("POST", "/issues/SUP-3/transition", {"to": "Waiting for PM", "user": AGENT})
    decided(service, "SUP-3", "allowed")
    assert service.post(late, "late-reply").status_code == 200
    stale = decided(service, "SUP-3", "comment")
    assert stale["verdict"] == "stale" and "Waiting for PM" in stale["reason"]
    assert jira("GET", "/issues/SUP-3")["status"] == "Waiting for PM"


def test_a_reply_with_no_way_to_the_team_leaves_agents_an_internal_note(jira, service):
    jira("POST", "/issues", {"key": "CRM-2", "status": "Answered", "project": "CRM", "issuetype": "CRM",
                             "transitions": {"Answered": []}})
    comment(jira, "CRM-2", CUSTOMER)
    stuck = decided(service, "CRM-2", "reply")
    assert stuck["verdict"] == "needs_attention"
    ticket = jira("GET", "/issues/CRM-2")
    assert ticket["status"] == "Answered"
    note = ticket["comments"][-1]
    assert note["jsdPublic"] is False and "In Progress" in json.dumps(note["body"], ensure_ascii=False)



def test_the_attention_queue_keeps_a_customers_reply_until_someone_of_the_team_answers(jira, service):
    targito(jira, "SUP-4")
    comment(jira, "SUP-4", CUSTOMER)
    decided(service, "SUP-4", "own-change")  # the move back to support has come back too
    comment(jira, "SUP-4", None)  # a comment of the bridge's own account answers nobody
    wait_until(lambda: len(service.api("/api/decisions", ticket="SUP-4")) == 3)
    expected = ("SUP-4", "customer", "commented, moved back to the team")
    assert [(w["ticket"], w["kind"], w["what"]) for w in service.api("/api/attention")] == [expected]
    assert [(w["ticket"], w["kind"], w["what"]) for w in service.cli_json("attention")] == [expected]
    comment(jira, "SUP-4", AGENT)
    wait_until(lambda: service.api("/api/attention") == [])

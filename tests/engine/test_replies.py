"""A customer's reply moves a waiting ticket back to the team: the core on plain data."""

from __future__ import annotations

import pytest

from bridge.engine import (
    NO_CHAIN,
    Actor,
    CommentAction,
    Event,
    Kind,
    Need,
    Role,
    Rule,
    Ticket,
    Transition,
    TransitionAction,
    Verdict,
    decide,
)
from bridge.engine.replies import trimmed
from bridge.workflows.model import Workflow

DESO = Workflow.model_validate(
    {
        "name": "deso",
        "applies_to": {"issue_types": ["CRM"]},
        "statuses": {"open": "Open", "in_progress": "In Progress", "answered": "Answered", "closed": "Closed"},
        "initial": "open",
        "flow": {"open": ["in_progress"], "in_progress": ["answered", "closed"], "answered": ["in_progress", "closed"]},
        "replies": {"answered": "in_progress"},
    }
)
TARGITO = DESO.model_copy(update={"name": "targito", "applies_to": DESO.applies_to.model_copy(
    update={"issue_types": [], "request_types": ["Něco mi nefunguje"]})})
CUSTOMER = Actor("qm:1", "Jana", Role.CUSTOMER)
AGENT = Actor("5b10", "Petr", Role.AGENT)
BACK = Transition("11", "Customer replied", "In Progress")
CLOSE = Transition("12", "Close", "Closed")


def comment(by: Actor = CUSTOMER, shown: str | None = "Answered", public: bool | None = True) -> Event:
    """A comment delivery, showing the ticket in `shown` when the comment was made."""
    return Event("jira", Kind.COMMENTED, "CRM-7", by, "CRM", "CRM", to_status=shown, comment="Here it is", public=public)


def judged(event: Event, ticket: Ticket | None = None, workflow: Workflow = DESO):
    return decide(event, workflow, ticket, NO_CHAIN, ())


def now_in(status: str, *transitions: Transition) -> Ticket:
    return Ticket("CRM-7", status, {}, transitions)


def test_a_customers_reply_on_a_waiting_ticket_first_asks_for_the_ticket_as_it_is_now():
    d = judged(comment())
    assert d.verdict is Verdict.NEEDS and d.needs == {Need.TICKET}


def test_a_customers_reply_moves_the_ticket_to_the_team_without_a_comment_of_its_own():
    d = judged(comment(), now_in("Answered", CLOSE, BACK))
    assert (d.verdict, d.rule, d.workflow) == (Verdict.RETURNED, Rule.REPLY, "deso")
    assert d.actions == (TransitionAction("CRM-7", "11", "In Progress", "Answered"),)
    assert "Answered" in d.reason and "In Progress" in d.reason


def test_a_reply_with_no_way_to_the_team_alerts_agents_in_an_internal_note():
    d = judged(comment(), now_in("Answered", CLOSE))
    assert (d.verdict, d.rule) == (Verdict.NEEDS_ATTENTION, Rule.REPLY)
    (note,) = d.actions
    assert isinstance(note, CommentAction) and not note.public
    assert "Jana" in note.body and "Answered" in note.body and "In Progress" in note.body


def test_a_reply_judged_without_a_tracker_says_where_it_would_go():
    d = judged(comment(), Ticket("CRM-7", "Answered", {}, transitions=None))
    assert d.verdict is Verdict.RETURNED
    assert d.actions == (TransitionAction("CRM-7", None, "In Progress", "Answered"),)


def test_a_reply_arriving_after_the_ticket_left_the_waiting_status_moves_nothing():
    d = judged(comment(), now_in("Closed", BACK))
    assert (d.verdict, d.rule) == (Verdict.STALE, Rule.COMMENT) and not d.actions
    assert "Closed" in d.reason


@pytest.mark.parametrize(
    ("event", "says"),
    [
        (comment(by=AGENT), "by the team"),
        (comment(public=False), "internal"),
        (comment(shown="In Progress"), "In Progress"),
    ],
    ids=["agent", "internal", "not-waiting"],
)
def test_comments_that_are_no_reply_move_nothing_and_cost_no_tracker_call(event, says):
    d = judged(event)  # no ticket given: it must not be asked for
    assert (d.verdict, d.rule) == (Verdict.IGNORED, Rule.COMMENT) and not d.actions
    assert says in d.reason


def test_an_agents_comment_moves_nothing_even_on_a_waiting_ticket():
    d = judged(comment(by=AGENT), now_in("Answered", BACK))
    assert d.verdict is Verdict.IGNORED and not d.actions


def test_the_bridges_own_comment_is_never_judged():
    d = judged(comment(by=Actor("me", "bridge", Role.BRIDGE)), now_in("Answered", BACK))
    assert (d.verdict, d.rule) == (Verdict.IGNORED, Rule.OWN_CHANGE)


def test_a_comment_whose_visibility_is_not_said_counts_as_the_customers_public_reply():
    d = judged(comment(public=None), now_in("Answered", BACK))
    assert d.verdict is Verdict.RETURNED


def test_a_comment_without_the_status_asks_for_the_ticket_and_is_judged_on_it():
    assert judged(comment(shown=None)).needs == {Need.TICKET}
    assert judged(comment(shown=None), now_in("Answered", BACK)).verdict is Verdict.RETURNED
    assert judged(comment(shown=None), now_in("Open", BACK)).verdict is Verdict.STALE


def test_a_comment_by_someone_of_unknown_role_on_a_waiting_ticket_asks_who_they_are():
    d = judged(comment(by=Actor("jnovakova", None, Role.UNKNOWN)))
    assert d.verdict is Verdict.NEEDS and d.needs == {Need.ROLE}


def test_a_workflow_without_replies_moves_nothing_on_a_comment():
    without = DESO.model_copy(update={"replies": {}})
    d = judged(comment(), now_in("Answered", BACK), workflow=without)
    assert (d.verdict, d.rule) == (Verdict.IGNORED, Rule.COMMENT) and not d.actions


# -- a comment delivery without the request type --------------------------------------------------
def test_a_customers_comment_without_the_request_type_a_workflow_is_chosen_by_is_trimmed():
    event = Event("jira", Kind.COMMENTED, "SUP-3", CUSTOMER, "SUP", "[System] Service request")
    assert trimmed(event, [DESO, TARGITO])
    assert not trimmed(event, [DESO]), "no workflow is chosen by request type"


@pytest.mark.parametrize(
    "event",
    [
        Event("jira", Kind.COMMENTED, "SUP-3", AGENT, "SUP", "[System] Service request"),
        Event("jira", Kind.COMMENTED, "SUP-3", CUSTOMER, "SUP", "[System] Service request", "Něco mi nefunguje"),
        Event("jira", Kind.COMMENTED, "CRM-3", CUSTOMER, "CRM", "CRM"),
        Event("jira", Kind.UPDATED, "SUP-3", CUSTOMER, "SUP", "[System] Service request"),
    ],
    ids=["agent", "request-type-given", "governed-by-issue-type", "not-a-comment"],
)
def test_other_deliveries_are_judged_as_they_come(event):
    assert not trimmed(event, [DESO, TARGITO])


def test_a_workflow_of_other_projects_does_not_make_a_delivery_trimmed():
    elsewhere = TARGITO.model_copy(update={"applies_to": TARGITO.applies_to.model_copy(update={"projects": ["TGT"]})})
    event = Event("jira", Kind.COMMENTED, "SUP-3", CUSTOMER, "SUP", "Task")
    assert not trimmed(event, [elsewhere])
    assert trimmed(Event("jira", Kind.COMMENTED, "TGT-3", CUSTOMER, "TGT", "Task"), [elsewhere])

"""Rules on creation on plain data: an e-mailed ticket's priority, a priority customers may
set on some request types only, fields a new ticket must have."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.engine import (
    Actor,
    CommentAction,
    Event,
    FieldsAction,
    Kind,
    Need,
    Role,
    Rule,
    Ticket,
    Verdict,
    decide,
)
from bridge.engine.creation import blank, holds, same
from bridge.workflows.model import Workflow

BUG, SUPPORT = "Něco mi nefunguje", "Potřebuji podporu"
CUSTOMER = Actor("qm:1f0c", "Jana Nováková", Role.CUSTOMER)
AGENT = Actor("5b10ac8d", "Petr Konzultant", Role.AGENT)
WHERE = "customfield_10070"


def workflow(**on_create: Any) -> Workflow:
    return Workflow.model_validate({
        "name": "support",
        "applies_to": {"request_types": [BUG, SUPPORT]},
        "statuses": {"open": "Open", "done": "Done"},
        "initial": "open",
        "flow": {"open": ["done"]},
        **({"on_create": on_create} if on_create else {}),
    })


EMAIL = workflow(by_channel=[{"channel": "email", "set": {"priority": "Medium"}}])
PORTAL = workflow(
    customer_fields=[{"field": "priority", "allowed_request_types": [BUG], "reset_to": "Medium"}],
    required=[{"request_types": [BUG], "fields": {WHERE: "Where it happened", "description": "Description"}}],
    messages={"missing": "{ticket} ({type}) needs {missing}."},
)


def priority(name: str) -> dict[str, str]:
    ids = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4"}
    return {"self": f"https://x.atlassian.net/rest/api/3/priority/{ids[name]}", "id": ids[name], "name": name}


def created(actor: Actor = CUSTOMER, request_type: str = SUPPORT, **fields: Any) -> Event:
    """The creation delivery: the ticket as it was created."""
    snapshot = Ticket("TGS-7", "Open", dict(fields), transitions=None)
    return Event("jira", Kind.CREATED, "TGS-7", actor, project="TGS", request_type=request_type,
                 to_status="Open", raw_event="jira:issue_created", snapshot=snapshot)


def now(channel: str | None = "portal", **fields: Any) -> Ticket:
    """The ticket as the tracker shows it when it is judged."""
    return Ticket("TGS-7", "Open", dict(fields), channel=channel)


# -- by channel ---------------------------------------------------------------------------------
def test_an_e_mailed_ticket_gets_medium_whatever_was_set_and_the_change_names_its_rule():
    decision = decide(created(priority=priority("High")), EMAIL, now("email", priority=priority("High")))
    assert decision.verdict is Verdict.CORRECTED and decision.rule is Rule.CHANNEL_FIELD
    (update,) = decision.actions
    assert update == FieldsAction("TGS-7", {"priority": {"name": "Medium"}}, "channel-field", {"priority": "High"})
    assert "priority High → Medium" in decision.reason and "email" in decision.reason


def test_the_channel_is_asked_for_with_the_ticket_since_the_delivery_never_carries_it():
    event = created(priority=priority("High"))
    assert decide(event, EMAIL).needs == {Need.TICKET, Need.CHANNEL}
    assert decide(event, EMAIL, Ticket("TGS-7", "Open", {"priority": priority("High")})).needs == {Need.CHANNEL}


@pytest.mark.parametrize("channel", ["portal", "api", "jira", ""])
def test_a_request_that_came_another_way_keeps_its_priority(channel: str):
    decision = decide(created(priority=priority("High")), EMAIL, now(channel, priority=priority("High")))
    assert (decision.verdict, decision.rule, decision.actions) == (Verdict.ALLOWED, Rule.CREATION_MET, ())


def test_an_e_mailed_ticket_already_medium_is_left_alone():
    decision = decide(created(priority=priority("Medium")), EMAIL, now("email", priority=priority("Medium")))
    assert decision.verdict is Verdict.ALLOWED and decision.actions == ()


def test_a_priority_an_agent_changed_after_creation_stands():
    """The delivery showed High; an agent has raised it to Highest since: their choice."""
    decision = decide(created(priority=priority("High")), EMAIL, now("email", priority=priority("Highest")))
    assert decision.actions == () and "since it was created: left as it is" in decision.reason


# -- what customers may set -----------------------------------------------------------------------
def test_a_customers_priority_on_a_type_without_the_field_goes_back_to_the_default():
    decision = decide(created(priority=priority("Highest")), PORTAL, now(priority=priority("Highest"), description="x"))
    assert decision.verdict is Verdict.CORRECTED and decision.rule is Rule.CUSTOMER_FIELD
    (update,) = decision.actions
    assert (update.fields, update.rule, update.was) == ({"priority": {"name": "Medium"}}, "customer-field", {"priority": "Highest"})


def test_on_the_bug_type_the_customer_chooses_the_priority():
    fields = {"priority": priority("Highest"), WHERE: "Šablona XY", "description": "Nejde vyhledávat"}
    decision = decide(created(request_type=BUG, **fields), PORTAL, now(**fields))
    assert (decision.verdict, decision.rule, decision.actions) == (Verdict.ALLOWED, Rule.CREATION_MET, ())


def test_an_agent_may_set_any_priority():
    decision = decide(created(AGENT, priority=priority("Highest")), PORTAL, now(priority=priority("Highest")))
    assert decision.actions == ()


def test_on_data_center_the_creator_is_asked_for_only_when_a_priority_would_go_back():
    someone = Actor("jnovakova", "Jana Nováková", Role.UNKNOWN)
    assert decide(created(someone), PORTAL, now(priority=priority("Highest"))).needs == {Need.ROLE}
    assert decide(created(someone), PORTAL, now(priority=priority("Medium"))).verdict is Verdict.ALLOWED


# -- required fields ----------------------------------------------------------------------------
def test_missing_required_fields_get_one_comment_naming_them():
    decision = decide(created(request_type=BUG), PORTAL, now(**{"priority": priority("High"), WHERE: " "}))
    assert decision.verdict is Verdict.CORRECTED and decision.rule is Rule.REQUIRED_FIELDS
    assert decision.actions == (
        CommentAction("TGS-7", f"TGS-7 ({BUG}) needs Where it happened, Description.", public=True),
    )


def test_an_empty_rich_text_description_counts_as_missing():
    empty = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": []}]}
    decision = decide(created(request_type=BUG), PORTAL, now(**{WHERE: "origin", "description": empty}))
    (comment,) = decision.actions
    assert isinstance(comment, CommentAction) and comment.body.endswith("needs Description.")


def test_required_fields_apply_to_their_types_only():
    assert decide(created(request_type=SUPPORT), PORTAL, now()).actions == ()


def test_every_change_is_recorded_with_its_own_rule():
    decision = decide(created(priority=priority("High")), workflow(
        by_channel=[{"channel": "email", "set": {"priority": "Medium", "labels": ["e-mail"]}}],
        required=[{"fields": {WHERE: "Where it happened"}, "public": False}],
    ), now("email", priority=priority("High"), labels=[]))
    update, comment = decision.actions
    assert isinstance(update, FieldsAction) and update.fields == {"priority": {"name": "Medium"}, "labels": ["e-mail"]}
    assert isinstance(comment, CommentAction) and comment.public is False
    assert decision.rule is Rule.CHANNEL_FIELD and "(channel-field" in decision.reason and "(required-fields)" in decision.reason


# -- what is not judged -------------------------------------------------------------------------
def test_a_ticket_the_bridge_created_and_a_workflow_without_rules_are_not_judged():
    bridge = Actor("5f2a9c0d", "Ticket Bridge", Role.BRIDGE)
    assert decide(created(bridge), EMAIL).rule is Rule.OWN_CHANGE
    assert decide(created(), workflow()).rule is Rule.NO_RULE


# -- values as Jira shows them ------------------------------------------------------------------
def test_a_value_holds_when_the_tracker_shows_what_was_sent():
    assert holds(priority("Medium"), {"name": "Medium"}) and holds(priority("Medium"), {"name": "medium"})
    assert not holds(priority("High"), {"name": "Medium"}) and not holds(None, {"name": "Medium"})
    assert holds([{"value": "A", "id": "1"}], [{"value": "A"}]) and not holds([], [{"value": "A"}])


def test_one_value_read_through_two_api_versions_is_the_same():
    v2 = {"self": "https://x/rest/api/2/priority/2", "id": "2", "name": "High"}
    assert same(v2, priority("High")) and not same(v2, priority("Highest"))


@pytest.mark.parametrize("value", [None, "", "  ", [], {}, {"type": "doc", "version": 1, "content": []}])
def test_blank_values(value: Any):
    assert blank(value)
    assert not blank("x") and not blank(0) and not blank({"type": "doc", "content": [{"type": "text", "text": "x"}]})

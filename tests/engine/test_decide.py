"""The decision core on plain data: no network, no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.engine import (
    NO_CHAIN,
    Actor,
    Chain,
    Comment,
    CommentAction,
    Event,
    Kind,
    Need,
    Role,
    Ticket,
    Transition,
    TransitionAction,
    Verdict,
)
from bridge.engine import decide as core_decide
from bridge.workflows.model import Workflow

WORKFLOW = Workflow.model_validate(
    {
        "name": "sheet",
        "applies_to": {"issue_types": ["Servis"]},
        "statuses": {
            "new": "Nový",
            "in_progress": "Realizace",
            "in_development": "Na vývoji",
            "waiting_on_customer": "Na klientovi",
            "awaiting_approval": "Ke schválení",
            "returned": "Vráceno klientem",
            "approved": "Schváleno",
            "done": "Hotovo",
            "cancelled": "Zrušeno",
        },
        "initial": "new",
        "flow": {
            "new": ["in_progress", "cancelled"],
            "in_progress": ["in_development", "waiting_on_customer", "awaiting_approval", "cancelled"],
            "in_development": ["in_progress"],
            "waiting_on_customer": ["returned", "in_progress", "done"],
            "awaiting_approval": ["approved", "returned"],
            "returned": ["in_progress"],
            "approved": ["done"],
        },
        "customer_transitions": [
            {"from": "waiting_on_customer", "to": "returned"},
            {"from": "awaiting_approval", "to": ["approved", "returned"]},
            {"from": "in_progress", "to": "cancelled", "requires": {"comment": True}},
        ],
        "on_enter": {
            "in_development": {"requires": {"fields": {"customfield_10050": "PBI"}}},
            "cancelled": {"requires": {"comment": True}},
        },
    }
)

CUSTOMER = Actor("qm:1", "Jana", Role.CUSTOMER)
AGENT = Actor("5b10", "Petr", Role.AGENT)
BACK = Transition("31", "Vrátit na klienta", "Na klientovi")


def move(frm: str, to: str, actor: Actor = CUSTOMER, comment: str | None = None) -> Event:
    return Event("jira", Kind.STATUS_CHANGED, "SRV-1", actor, "SRV", "Servis", None, frm, to, comment)


def ticket(status: str, *transitions: Transition, **fields: object) -> Ticket:
    return Ticket("SRV-1", status, dict(fields), tuple(transitions))


def decide(event: Event, workflow: Workflow | None, ticket: Ticket | None = None, chain: Chain | None = NO_CHAIN):
    """The core, with no earlier customer moves let stand and no comments on the ticket but
    the delivery's own, unless a test says so."""
    return core_decide(event, workflow, ticket, chain, ())


def test_no_workflow_is_ignored_without_facts():
    d = decide(move("Na klientovi", "Hotovo"), None)
    assert d.verdict is Verdict.IGNORED and d.rule == "no-workflow" and not d.actions


def test_the_bridges_own_change_is_never_judged():
    d = decide(move("Na klientovi", "Hotovo", Actor("me", "bridge", Role.BRIDGE)), WORKFLOW)
    assert d.verdict is Verdict.IGNORED and d.rule == "own-change"


@pytest.mark.parametrize("kind", [Kind.UPDATED, Kind.CREATED, Kind.COMMENTED, Kind.COMMENT_DELETED, Kind.OTHER])
def test_events_without_a_status_change_touch_no_rule(kind):
    event = Event("jira", kind, "SRV-1", CUSTOMER, "SRV", "Servis")
    assert decide(event, WORKFLOW).verdict is Verdict.IGNORED


def test_allowed_customer_move_needs_no_ticket():
    d = decide(move("Ke schválení", "Schváleno"), WORKFLOW)
    assert d.verdict is Verdict.ALLOWED and not d.actions


def test_agent_moves_are_not_judged_by_the_customer_list():
    d = decide(move("Na klientovi", "Hotovo", AGENT), WORKFLOW)
    assert d.verdict is Verdict.ALLOWED


def test_forbidden_customer_move_first_asks_for_the_ticket():
    d = decide(move("Na klientovi", "Hotovo"), WORKFLOW)
    assert d.verdict is Verdict.NEEDS and d.needs == {Need.TICKET}


def test_forbidden_customer_move_is_reverted_with_a_public_comment():
    d = decide(move("Na klientovi", "Hotovo"), WORKFLOW, ticket("Hotovo", BACK))
    assert d.verdict is Verdict.REVERTED and d.rule == "customer-transition"
    transition, comment = d.actions
    assert transition == TransitionAction("SRV-1", "31", "Na klientovi", "Hotovo")
    assert isinstance(comment, CommentAction) and comment.public
    assert "Vráceno klientem" in comment.body  # names what is allowed from Na klientovi


def test_revert_picks_the_transition_leading_back_not_the_first():
    other = Transition("41", "Hotovo → Schváleno", "Schváleno")
    d = decide(move("Na klientovi", "Hotovo"), WORKFLOW, ticket("Hotovo", other, BACK))
    assert d.actions[0].transition_id == "31"


def test_stale_event_reverts_nothing():
    d = decide(move("Na klientovi", "Hotovo"), WORKFLOW, ticket("Realizace", BACK))
    assert d.verdict is Verdict.STALE and not d.actions


def test_no_way_back_alerts_agents_internally():
    d = decide(move("Na klientovi", "Hotovo"), WORKFLOW, ticket("Hotovo"))
    assert d.verdict is Verdict.NEEDS_ATTENTION
    (note,) = d.actions
    assert isinstance(note, CommentAction) and not note.public
    assert "Na klientovi" in note.body


def test_from_a_status_with_no_customer_moves_the_message_says_so():
    d = decide(move("Na vývoji", "Hotovo"), WORKFLOW, ticket("Hotovo", Transition("9", "x", "Na vývoji")))
    assert WORKFLOW.messages.nothing_allowed in d.actions[1].body


def test_unknown_role_is_asked_for_when_the_move_is_not_open_to_customers():
    unknown = Actor("jnovakova", "Jana", Role.UNKNOWN)
    assert decide(move("Na klientovi", "Hotovo", unknown), WORKFLOW).needs == {Need.ROLE}
    # a move open to everyone without requirements is allowed whoever made it
    assert decide(move("Ke schválení", "Schváleno", unknown), WORKFLOW).verdict is Verdict.ALLOWED


def test_entry_field_requirement_applies_to_agents_too():
    event = move("Realizace", "Na vývoji", AGENT)
    assert decide(event, WORKFLOW).needs == {Need.TICKET}
    back = Transition("7", "Zpět", "Realizace")
    d = decide(event, WORKFLOW, ticket("Na vývoji", back, customfield_10050=None))
    assert d.verdict is Verdict.REVERTED and d.rule == "entry-requirement"
    assert d.actions[0] == TransitionAction("SRV-1", "7", "Realizace", "Na vývoji")
    assert not d.actions[1].public  # an agent is told internally
    assert "PBI" in d.actions[1].body


@pytest.mark.parametrize("blank", [None, "", "   ", [], {}])
def test_blank_field_values_do_not_meet_a_requirement(blank):
    event = move("Realizace", "Na vývoji", AGENT)
    d = decide(event, WORKFLOW, ticket("Na vývoji", Transition("7", "Zpět", "Realizace"), customfield_10050=blank))
    assert d.verdict is Verdict.REVERTED


def test_entry_field_requirement_met():
    d = decide(move("Realizace", "Na vývoji", AGENT), WORKFLOW, ticket("Na vývoji", customfield_10050="PBI-4711"))
    assert d.verdict is Verdict.ALLOWED and d.rule == "requirements-met"


def test_cancel_without_reason_is_reverted_even_for_agents():
    event = move("Realizace", "Zrušeno", AGENT)
    assert decide(event, WORKFLOW).needs == {Need.TICKET}
    d = decide(event, WORKFLOW, ticket("Zrušeno", Transition("8", "Obnovit", "Realizace")))
    assert d.verdict is Verdict.REVERTED
    assert WORKFLOW.messages.missing_comment in d.actions[1].body


def test_cancel_with_reason_is_allowed_without_a_tracker_call():
    d = decide(move("Realizace", "Zrušeno", AGENT, comment="Zákazník již nepotřebuje"), WORKFLOW)
    assert d.verdict is Verdict.ALLOWED


def test_customer_move_requirement_applies_to_customers():
    event = move("Realizace", "Zrušeno", CUSTOMER, comment="  ")
    d = decide(event, WORKFLOW, ticket("Zrušeno", Transition("8", "Obnovit", "Realizace")))
    assert d.verdict is Verdict.REVERTED and d.actions[1].public


def test_status_names_match_case_insensitively():
    d = decide(move("na klientovi", "HOTOVO"), WORKFLOW, ticket("Hotovo", BACK))
    assert d.verdict is Verdict.REVERTED


def test_status_outside_the_workflow_is_recorded_not_judged():
    d = decide(move("Na klientovi", "Archiv"), WORKFLOW)
    assert d.verdict is Verdict.IGNORED and d.rule == "unknown-status"


def test_judging_without_a_tracker_names_the_target_status():
    d = decide(move("Na klientovi", "Hotovo"), WORKFLOW, Ticket("SRV-1", "Hotovo", {}, None))
    assert d.verdict is Verdict.REVERTED
    assert d.actions[0] == TransitionAction("SRV-1", None, "Na klientovi", "Hotovo")


# -- a customer's quick moves: the first is stale when judged, the second continues it --------
STALE_FIRST = Chain(origin="Na klientovi", reached="Hotovo")


def test_customer_moves_first_ask_for_the_customers_stale_moves():
    d = core_decide(move("Na klientovi", "Vráceno klientem"), WORKFLOW)
    assert d.verdict is Verdict.NEEDS and d.needs == {Need.CHAIN}
    agent = core_decide(move("Realizace", "Na klientovi", AGENT), WORKFLOW)
    assert agent.verdict is Verdict.ALLOWED  # agents have no such chain to look up


def test_an_allowed_move_continuing_a_forbidden_one_is_judged_as_the_whole_way():
    # Ke schválení → Realizace (forbidden, stale) then Realizace → Zrušeno (allowed with a reason)
    # is Ke schválení → Zrušeno, which customers may not do
    chain = Chain(origin="Ke schválení", reached="Realizace")
    back = Transition("77", "Zpět ke schválení", "Ke schválení")
    d = decide(move("Realizace", "Zrušeno", comment="nechci"), WORKFLOW, ticket("Zrušeno", back), chain)
    assert d.verdict is Verdict.REVERTED and d.chain_from == "Ke schválení"
    transition, comment = d.actions
    assert transition == TransitionAction("SRV-1", "77", "Ke schválení", "Zrušeno")
    assert comment.public and "Ke schválení" in comment.body
    assert "Ke schválení → Realizace → Zrušeno" in d.reason


def test_the_whole_way_asks_for_the_ticket_before_reverting():
    d = decide(move("Hotovo", "Realizace"), WORKFLOW, None, Chain("Ke schválení", "Hotovo"))
    assert d.verdict is Verdict.NEEDS and d.needs == {Need.TICKET}


def test_a_chain_whose_whole_way_is_allowed_stands():
    # Na klientovi → Hotovo (forbidden, stale) then Hotovo → Vráceno klientem: the customer returned it
    d = decide(move("Hotovo", "Vráceno klientem"), WORKFLOW, None, STALE_FIRST)
    assert d.verdict is Verdict.ALLOWED and d.chain_from == "Na klientovi" and not d.actions


def test_a_chain_back_to_where_it_began_stands():
    d = decide(move("Hotovo", "Na klientovi"), WORKFLOW, None, STALE_FIRST)
    assert (d.verdict, d.rule) == (Verdict.ALLOWED, "chain-undone")


def test_a_stale_chain_is_stale_again_and_keeps_its_origin():
    d = decide(move("Hotovo", "Schváleno"), WORKFLOW, ticket("Realizace", BACK), STALE_FIRST)
    assert d.verdict is Verdict.STALE and d.chain_from == "Na klientovi"


def test_moves_that_do_not_continue_the_chain_are_judged_alone():
    d = decide(move("Ke schválení", "Schváleno"), WORKFLOW, None, STALE_FIRST)
    assert d.verdict is Verdict.ALLOWED and d.chain_from is None


def test_an_unknown_actor_continuing_a_chain_is_asked_about():
    unknown = Actor("jnovakova", None, Role.UNKNOWN)
    d = core_decide(move("Hotovo", "Vráceno klientem", unknown), WORKFLOW, None, STALE_FIRST)
    assert d.verdict is Verdict.NEEDS and d.needs == {Need.ROLE}


# -- deliveries that are not about one ticket, or name it by id alone --------------------------
def test_an_event_about_no_one_ticket_is_ignored_by_name_without_a_workflow():
    event = Event("jira", Kind.NO_TICKET, None, Actor(None), raw_event="sprint_started")
    d = core_decide(event, None)
    assert (d.verdict, d.rule) == (Verdict.IGNORED, "no-rule")
    assert "sprint_started" in d.reason


def test_an_event_naming_its_ticket_by_id_first_asks_for_the_ticket():
    event = Event("jira", Kind.COMMENTED, None, AGENT, comment="hello", ticket_id="10013")
    d = core_decide(event, None)  # no workflow yet: the ticket's type decides it
    assert d.verdict is Verdict.NEEDS and d.needs == {Need.TICKET}


# -- a required comment that comes on its own ---------------------------------------------------
AT = datetime(2026, 11, 20, 15, 2, 41, tzinfo=UTC)
WINDOW = timedelta(seconds=120)
CANCEL = Transition("8", "Obnovit", "Realizace")


def cancel(by: Actor = AGENT, at: datetime | None = AT) -> Event:
    return Event("jira", Kind.STATUS_CHANGED, "SRV-1", by, "SRV", "Servis", None, "Realizace", "Zrušeno", at=at)


def said(text: str = "Zákazník již nepotřebuje", by: Actor = AGENT, after: float = 0) -> Comment:
    return Comment(frozenset({by.id}), AT + timedelta(seconds=after), text)


def judged(event: Event, comments: tuple[Comment, ...], now: datetime, window: timedelta = WINDOW):
    return core_decide(event, WORKFLOW, None, NO_CHAIN, comments, now=now, window=window)


def test_a_change_without_its_required_comment_first_asks_for_the_tickets_comments():
    d = core_decide(cancel(), WORKFLOW, None, NO_CHAIN)
    assert d.verdict is Verdict.NEEDS and d.needs == {Need.COMMENTS}


@pytest.mark.parametrize("after", [-120, -5, 0, 40, 120])
def test_a_comment_by_the_same_person_within_the_window_counts(after):
    d = judged(cancel(), (said(after=after),), now=AT + timedelta(seconds=130))
    assert (d.verdict, d.rule) == (Verdict.ALLOWED, "requirements-met")
    assert "came on its own" in d.reason


@pytest.mark.parametrize(
    "comment",
    [said(after=-121), said(after=121), said(by=CUSTOMER), said(text=" \n "), Comment(frozenset(), AT, "důvod")],
    ids=["too-early", "too-late", "someone-else", "blank", "no-author"],
)
def test_other_comments_do_not_count_once_the_window_has_closed(comment):
    now = AT + timedelta(seconds=121)
    assert judged(cancel(), (comment,), now).needs == {Need.TICKET}
    d = core_decide(cancel(), WORKFLOW, ticket("Zrušeno", CANCEL), NO_CHAIN, (comment,), now=now, window=WINDOW)
    assert d.verdict is Verdict.REVERTED
    assert WORKFLOW.messages.missing_comment in d.actions[1].body


def test_while_the_window_is_open_the_verdict_waits_for_the_comment_until_it_closes():
    d = judged(cancel(), (said(by=CUSTOMER),), now=AT + timedelta(seconds=30))
    assert (d.verdict, d.wait_until) == (Verdict.WAITING, AT + WINDOW)
    assert not d.actions
    later = judged(cancel(), (said(by=CUSTOMER), said(after=50)), now=AT + WINDOW)
    assert later.verdict is Verdict.ALLOWED


def test_the_window_is_as_long_as_configured():
    short = timedelta(seconds=10)
    assert judged(cancel(), (said(after=30),), AT + timedelta(seconds=60), short).needs == {Need.TICKET}
    assert judged(cancel(), (said(after=5),), AT + timedelta(seconds=60), short).verdict is Verdict.ALLOWED


def test_without_the_time_of_the_change_only_the_deliverys_own_comment_counts():
    d = judged(cancel(at=None), (said(),), now=AT)
    assert d.verdict is Verdict.NEEDS and d.needs == {Need.TICKET}  # no wait, no match: revert next


def test_a_customers_whole_way_waits_for_its_reason_too():
    # Realizace → Na klientovi was stale; Na klientovi → Zrušeno is judged as Realizace → Zrušeno,
    # which customers may do with a reason
    chain = Chain(origin="Realizace", reached="Na klientovi")
    event = Event("jira", Kind.STATUS_CHANGED, "SRV-1", CUSTOMER, "SRV", "Servis", None, "Na klientovi", "Zrušeno",
                  at=AT)
    d = core_decide(event, WORKFLOW, None, chain, (), now=AT + timedelta(seconds=10), window=WINDOW)
    assert d.verdict is Verdict.WAITING

"""Development items on plain data: what a ticket entering development must name, and when
it comes back by itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bridge.engine import (
    NO_CHAIN,
    Actor,
    Chain,
    CommentAction,
    Decision,
    DevItem,
    DevItems,
    Event,
    Kind,
    LinkAction,
    Need,
    NotAnItem,
    Role,
    Rule,
    Ticket,
    Transition,
    TransitionAction,
    Verdict,
    decide,
    decide_development,
    item_numbers,
    named_items,
)
from bridge.workflows import load_file
from bridge.workflows.model import Workflow

FIELD = "customfield_10050"


def workflow(**development: Any) -> Workflow:
    """A service sheet handing tickets to Azure DevOps; `development` overrides its section.
    The development field is not among `on_enter`'s, so the section speaks for itself."""
    section = {
        "status": "in_development",
        "field": FIELD,
        "label": "PBI",
        "provider": "azure-devops",
        "done": ["Done"],
        "then": "testing",
        "comment": "Development of {items} on {ticket} is done ({states}).",
        "messages": {
            "missing": "{from_status} → {to_status} reverted: {label} is empty.",
            "not_found": "{from_status} → {to_status} reverted: no PBI {number}.",
            "removed": "{from_status} → {to_status} reverted: PBI {number} is removed.",
            "garbage": "{from_status} → {to_status} reverted: '{value}' is no {label}.",
        },
        **development,
    }
    return Workflow.model_validate(
        {
            "name": "sheet",
            "applies_to": {"issue_types": ["Servis"]},
            "statuses": {
                "in_progress": "Realizace",
                "in_development": "Na vývoji",
                "testing": "Testování",
                "waiting_on_customer": "Na klientovi",
            },
            "initial": "in_progress",
            "flow": {
                "in_progress": ["in_development", "waiting_on_customer"],
                "in_development": ["testing", "in_progress"],
                "testing": ["in_development"],
                "waiting_on_customer": ["in_development", "in_progress"],
            },
            # a customer who answers may hand the ticket straight back to development
            "customer_transitions": [{"from": "waiting_on_customer", "to": "in_development"}],
            "development": section,
        }
    )


SHEET = workflow()
AGENT = Actor("5b10", "Petr", Role.AGENT)
CUSTOMER = Actor("qm:1", "Jana", Role.CUSTOMER)
BACK = Transition("21", "Zpět do realizace", "Realizace")
ON = Transition("31", "Testovat", "Testování")


def enter(actor: Actor = AGENT, frm: str = "Realizace") -> Event:
    return Event("jira", Kind.STATUS_CHANGED, "SRV-1", actor, "SRV", "Servis", None, frm, "Na vývoji")


def in_dev(value: object = None, *transitions: Transition, status: str = "Na vývoji") -> Ticket:
    return Ticket("SRV-1", status, {FIELD: value}, transitions or (BACK, ON))


def found(*items: DevItem) -> DevItems:
    return DevItems({item.id: item for item in items})


def pbi(number: str, state: str = "Committed") -> DevItem:
    return DevItem(number, state, f"Fix {number}", f"https://dev.azure.com/o/p/_workitems/edit/{number}")


def judge(event: Event, ticket: Ticket | None, items: DevItems | None = None, wf: Workflow = SHEET) -> Decision:
    return decide(event, wf, ticket, NO_CHAIN, (), items=items)


# -- the numbers people type ------------------------------------------------------------------
@pytest.mark.parametrize("value,expected", [
    ("4711", ["4711"]),
    ("#4711", ["4711"]),
    ("PBI 4711", ["4711"]),
    ("PBI-4711", ["4711"]),
    ("pbi4711", ["4711"]),
    ("AB#4711", ["4711"]),
    (" 04711 ", ["4711"]),
    (4711, ["4711"]),
    (4711.0, ["4711"]),  # a Jira number field
    ("4711, 4712;4713 4714", ["4711", "4712", "4713", "4714"]),
    ("PBI 4712, #4711, 4712", ["4712", "4711"]),
    (["PBI 4711", 4712, "#4711"], ["4711", "4712"]),
    ("https://dev.azure.com/org/proj/_workitems/edit/4711/", ["4711"]),
    ("https://dev.azure.com/org/proj/_workitems/edit/4711, 4712", ["4711", "4712"]),
    ("", []),
    ("  ", []),
    (None, []),
    ([], []),
    (" , ", []),
])  # fmt: skip
def test_azure_devops_numbers(value: object, expected: list[str]) -> None:
    assert item_numbers("azure-devops", value) == expected


@pytest.mark.parametrize("value,expected", [
    ("DEV-12", ["DEV-12"]),
    ("dev-12", ["DEV-12"]),
    ("DEV-12, ops-3 DEV-12", ["DEV-12", "OPS-3"]),
    (["dev-12", {"key": "DEV-13"}], ["DEV-12", "DEV-13"]),
    ({"value": "DEV-14"}, ["DEV-14"]),
    ("https://targito.atlassian.net/browse/DEV-12", ["DEV-12"]),
    (None, []),
])  # fmt: skip
def test_jira_keys(value: object, expected: list[str]) -> None:
    assert item_numbers("jira", value) == expected


@pytest.mark.parametrize("provider,value,quoted", [
    ("azure-devops", "abc", "'abc'"),
    ("azure-devops", "4711abc", "'4711abc'"),
    ("azure-devops", "PBI", "'PBI'"),
    ("azure-devops", "DEV-12", "'DEV-12'"),
    ("azure-devops", "0", "'0'"),
    ("azure-devops", 4711.5, "'4711.5'"),
    ("azure-devops", True, "'True'"),
    ("azure-devops", ["4711", "see ticket"], "'4711, see ticket'"),
    ("azure-devops", {"id": 4711}, "'{'id': 4711}'"),
    ("jira", "4711", "'4711'"),
    ("jira", 12, "'12'"),
    ("jira", "DEV-", "'DEV-'"),
    ("jira", "DEV-12/x", "'DEV-12/x'"),
    ("jira", "DEV-12 and DEV-13", "'DEV-12 and DEV-13'"),
])  # fmt: skip
def test_what_is_no_item_number_is_refused_quoting_the_value(provider: str, value: object, quoted: str) -> None:
    with pytest.raises(ValueError) as info:
        item_numbers(provider, value)
    assert quoted in str(info.value)


def test_a_long_value_is_quoted_cut() -> None:
    with pytest.raises(NotAnItem) as info:
        item_numbers("azure-devops", "the PBI the developers opened last week " * 5)
    assert info.value.value.startswith("the PBI the developers") and info.value.value.endswith("…")
    assert len(info.value.value) <= 60


def test_named_items_are_what_the_provider_is_asked_for() -> None:
    assert named_items(SHEET, in_dev("PBI 4711, #4712")) == ["4711", "4712"]
    assert named_items(SHEET, in_dev("not a number")) == []
    assert named_items(workflow(provider="jira"), in_dev("dev-1")) == ["DEV-1"]


# -- entering development -------------------------------------------------------------------
def test_entering_development_first_asks_for_the_ticket() -> None:
    d = judge(enter(), None)
    assert d.verdict is Verdict.NEEDS and d.needs == {Need.TICKET}


def test_then_for_the_items_it_names() -> None:
    d = judge(enter(), in_dev("PBI 4711"))
    assert d.verdict is Verdict.NEEDS and d.needs == {Need.ITEMS}


def test_an_empty_field_is_reverted_with_the_missing_text() -> None:
    d = judge(enter(), in_dev(""))
    assert d.verdict is Verdict.REVERTED and d.rule is Rule.DEV_ITEM
    back, comment = d.actions
    assert back == TransitionAction("SRV-1", "21", "Realizace", "Na vývoji")
    assert comment == CommentAction("SRV-1", "Realizace → Na vývoji reverted: PBI is empty.", public=False)


def test_a_customers_move_is_reverted_with_a_public_comment() -> None:
    back_to_customer = Transition("41", "Na klienta", "Na klientovi")
    d = judge(enter(CUSTOMER, "Na klientovi"), in_dev(None, back_to_customer))
    assert d.verdict is Verdict.REVERTED and d.rule is Rule.DEV_ITEM
    back, comment = d.actions
    assert isinstance(back, TransitionAction) and back.to_status == "Na klientovi"
    assert isinstance(comment, CommentAction) and comment.public


def test_an_empty_field_the_workflow_requires_anyway_gets_one_comment_not_two() -> None:
    requires = {"in_development": {"requires": {"fields": {FIELD: "PBI"}}}}
    wf = Workflow.model_validate({**SHEET.model_dump(by_alias=True), "on_enter": requires})
    d = judge(enter(), in_dev(None), wf=wf)
    assert d.verdict is Verdict.REVERTED and d.rule is Rule.ENTRY_REQUIREMENT
    assert [a.kind for a in d.actions] == ["transition", "comment"]


def test_garbage_is_reverted_quoting_it() -> None:
    d = judge(enter(), in_dev("viz e-mail"))
    assert d.verdict is Verdict.REVERTED and d.rule is Rule.DEV_ITEM
    assert d.actions[1] == CommentAction(
        "SRV-1", "Realizace → Na vývoji reverted: 'viz e-mail' is no PBI.", public=False
    )


def test_without_a_provider_connection_the_number_stands_unchecked_and_unlinked() -> None:
    d = judge(enter(), in_dev("4711"), DevItems(configured=False))
    assert d.verdict is Verdict.ALLOWED and d.rule is Rule.DEV_LINKED and not d.actions
    assert "not checked" in d.reason


def test_a_provider_that_cannot_be_reached_never_reverts_the_move() -> None:
    d = judge(enter(), in_dev("4711"), DevItems(unreachable="503 Service Unavailable"))
    assert d.verdict is Verdict.NEEDS_ATTENTION and d.rule is Rule.DEV_UNREACHABLE
    (note,) = d.actions
    assert isinstance(note, CommentAction) and not note.public
    assert "4711" in note.body and "503 Service Unavailable" in note.body


def test_an_item_that_does_not_exist_is_reverted_naming_it() -> None:
    d = judge(enter(), in_dev("4711, 4712, 4713"), found(pbi("4712")))
    assert d.verdict is Verdict.REVERTED and d.rule is Rule.DEV_ITEM
    assert d.actions[1] == CommentAction("SRV-1", "Realizace → Na vývoji reverted: no PBI 4711, 4713.", public=False)


@pytest.mark.parametrize("state", ["Removed", "removed"])
def test_a_removed_item_is_reverted(state: str) -> None:
    d = judge(enter(), in_dev("4711 4712"), found(pbi("4711"), pbi("4712", state)))
    assert d.verdict is Verdict.REVERTED and d.rule is Rule.DEV_ITEM
    assert isinstance(d.actions[1], CommentAction) and d.actions[1].body.endswith("PBI 4712 is removed.")


def test_items_that_exist_are_linked_one_each() -> None:
    d = judge(enter(), in_dev("PBI 4711, 4712"), found(pbi("4711"), pbi("4712", "Done")))
    assert d.verdict is Verdict.ALLOWED and d.rule is Rule.DEV_LINKED
    assert d.actions == (
        LinkAction("SRV-1", "azure-devops", "4711", pbi("4711").url, "Fix 4711", resolved=False,
                   state="Committed", workflow="sheet"),
        LinkAction("SRV-1", "azure-devops", "4712", pbi("4712").url, "Fix 4712", resolved=True,
                   state="Done", workflow="sheet"),
    )
    assert "Realizace → Na vývoji by agent" in d.reason and "4711 Committed" in d.reason


def test_an_item_already_done_moves_the_ticket_on_at_once() -> None:
    d = judge(enter(), in_dev("4711"), found(pbi("4711", "Done")))
    assert d.verdict is Verdict.RETURNED and d.rule is Rule.DEV_DONE
    link, move, comment = d.actions
    assert isinstance(link, LinkAction) and link.resolved
    assert move == TransitionAction("SRV-1", "31", "Testování", "Na vývoji")
    assert comment == CommentAction("SRV-1", "Development of 4711 on SRV-1 is done (Done).", public=False)


def test_with_any_one_done_item_is_enough() -> None:
    items = found(pbi("4711"), pbi("4712", "Done"))
    assert judge(enter(), in_dev("4711 4712"), items).verdict is Verdict.ALLOWED
    d = judge(enter(), in_dev("4711 4712"), items, wf=workflow(wait_for="any", public=True))
    assert d.verdict is Verdict.RETURNED
    assert d.actions[-1] == CommentAction("SRV-1", "Development of 4712 on SRV-1 is done (Done).", public=True)


def test_done_with_no_way_on_alerts_agents_and_still_links() -> None:
    d = judge(enter(), in_dev("4711", BACK), found(pbi("4711", "Done")))
    assert d.verdict is Verdict.NEEDS_ATTENTION and d.rule is Rule.DEV_DONE
    link, note = d.actions
    assert isinstance(link, LinkAction) and isinstance(note, CommentAction) and not note.public
    assert "Testování" in note.body and "4711" in note.body


def test_a_ticket_that_moved_on_before_it_was_judged_is_left_alone() -> None:
    d = judge(enter(), in_dev("", status="Realizace"))
    assert d.verdict is Verdict.STALE and not d.actions


def test_no_way_back_alerts_agents_as_other_reverts_do() -> None:
    d = judge(enter(), in_dev("", ON))
    assert d.verdict is Verdict.NEEDS_ATTENTION and d.rule is Rule.DEV_ITEM
    (note,) = d.actions
    assert isinstance(note, CommentAction) and not note.public


def test_a_customers_chain_is_judged_whole_and_keeps_where_it_began() -> None:
    """Na klientovi → Realizace (let stand, stale) → Na vývoji is the customer's own move
    Na klientovi → Na vývoji: allowed, so the items are checked and linked."""
    chain = Chain("Na klientovi", "Realizace")
    d = decide(enter(CUSTOMER, "Realizace"), SHEET, in_dev("4711"), chain, (), items=found(pbi("4711")))
    assert d.verdict is Verdict.ALLOWED and d.rule is Rule.DEV_LINKED and d.chain_from == "Na klientovi"
    assert d.reason.startswith("customer moves Na klientovi → Realizace → Na vývoji")
    assert [a.kind for a in d.actions] == ["link"]


@pytest.mark.parametrize("frm,to", [("Na vývoji", "Testování"), ("Na vývoji", "Realizace"), ("Realizace", "Na klientovi")])
def test_other_moves_ask_nothing_of_development(frm: str, to: str) -> None:
    event = Event("jira", Kind.STATUS_CHANGED, "SRV-1", AGENT, "SRV", "Servis", None, frm, to)
    d = decide(event, SHEET, None, NO_CHAIN, ())
    assert d.verdict is Verdict.ALLOWED and d.rule is Rule.ALLOWED and not d.actions


def test_the_bridges_own_move_into_development_is_not_checked() -> None:
    d = judge(enter(Actor("me", "bridge", Role.BRIDGE)), None)
    assert d.verdict is Verdict.IGNORED and d.rule is Rule.OWN_CHANGE


# -- a linked item changed ------------------------------------------------------------------
def test_done_items_bring_the_ticket_back_with_its_comment() -> None:
    items = found(pbi("4711", "Done"), pbi("4712", "Done"))
    d = decide_development(in_dev("4711, 4712"), SHEET, ["4711", "4712"], items)
    assert d.verdict is Verdict.RETURNED and d.rule is Rule.DEV_DONE
    move, comment, *links = d.actions
    assert move == TransitionAction("SRV-1", "31", "Testování", "Na vývoji")
    assert comment == CommentAction("SRV-1", "Development of 4711, 4712 on SRV-1 is done (Done).", public=False)
    assert [(link.item, link.resolved) for link in links if isinstance(link, LinkAction)] == [
        ("4711", True), ("4712", True),
    ]  # fmt: skip


def test_until_all_are_done_the_ticket_waits_naming_what_is_not() -> None:
    items = found(pbi("4711", "Done"), pbi("4712", "Active"))
    d = decide_development(in_dev("4711, 4712"), SHEET, ["4711", "4712", "4713"], items)
    assert d.verdict is Verdict.IGNORED and d.rule is Rule.DEV_WAITING
    assert "4712 Active" in d.reason and "4713 (not found)" in d.reason and "4711" not in d.reason
    assert not any(isinstance(a, (TransitionAction, CommentAction)) for a in d.actions)
    assert {(a.item, a.resolved) for a in d.actions if isinstance(a, LinkAction)} == {
        ("4711", True), ("4712", False),
    }  # fmt: skip


def test_with_any_one_done_item_brings_it_back() -> None:
    wf = workflow(wait_for="any")
    d = decide_development(in_dev(), wf, ["4711", "4712"], found(pbi("4711", "Active"), pbi("4712", "Done")))
    assert d.verdict is Verdict.RETURNED
    assert CommentAction("SRV-1", "Development of 4712 on SRV-1 is done (Done).", public=False) in d.actions


def test_a_removed_item_never_counts_as_done() -> None:
    wf = workflow(wait_for="any", done=["Closed", "Resolved"])
    items = found(pbi("4711", "Removed"), pbi("4712", "Active"))
    assert decide_development(in_dev(), wf, ["4711", "4712"], items).rule is Rule.DEV_WAITING
    d = decide_development(in_dev(), wf, ["4711"], found(pbi("4711", "resolved")))
    assert d.verdict is Verdict.RETURNED, "states are matched whatever their case"


def test_a_ticket_that_left_development_is_left_alone() -> None:
    d = decide_development(in_dev(status="Realizace"), SHEET, ["4711"], found(pbi("4711", "Done")))
    assert d.verdict is Verdict.IGNORED and d.rule is Rule.DEV_LEFT and not d.actions


def test_a_provider_that_cannot_be_reached_sends_nothing() -> None:
    d = decide_development(in_dev(), SHEET, ["4711"], DevItems(unreachable="timed out"))
    assert d.verdict is Verdict.IGNORED and d.rule is Rule.DEV_UNREACHABLE and not d.actions
    assert "timed out" in d.reason


def test_no_way_on_alerts_agents() -> None:
    d = decide_development(in_dev(None, BACK), SHEET, ["4711"], found(pbi("4711", "Done")))
    assert d.verdict is Verdict.NEEDS_ATTENTION and d.rule is Rule.DEV_DONE
    notes = [a for a in d.actions if isinstance(a, CommentAction)]
    assert len(notes) == 1 and not notes[0].public and "Testování" in notes[0].body


def test_judged_without_a_tracker_the_move_names_no_transition() -> None:
    ticket = Ticket("SRV-1", "Na vývoji", {}, None)
    d = decide_development(ticket, SHEET, ["4711"], found(pbi("4711", "Done")))
    assert d.actions[0] == TransitionAction("SRV-1", None, "Testování", "Na vývoji")


def test_a_workflow_without_development_moves_nothing() -> None:
    wf = Workflow.model_validate({**SHEET.model_dump(by_alias=True), "development": None})
    d = decide_development(in_dev(), wf, ["4711"], found(pbi("4711", "Done")))
    assert d.verdict is Verdict.IGNORED and not d.actions


# -- the shipped workflows ------------------------------------------------------------------
SHIPPED = Path(__file__).resolve().parents[2] / "workflows"


def test_the_service_sheet_sends_a_done_pbi_to_testing_in_czech() -> None:
    wf = load_file(SHIPPED / "service-sheet.yaml")
    ticket = Ticket("SERVIS-7", "Na vývoji", {FIELD: "PBI 4711"}, (BACK, ON))
    event = Event("jira", Kind.STATUS_CHANGED, "SERVIS-7", AGENT, "SERVIS", "Servis", None, "Realizace", "Na vývoji")
    d = decide(event, wf, ticket, NO_CHAIN, (), items=found(pbi("4711", "Done")))
    assert d.verdict is Verdict.RETURNED
    comment = next(a for a in d.actions if isinstance(a, CommentAction))
    assert "4711" in comment.body and "testování" in comment.body and not comment.public
    empty = decide(event, wf, Ticket("SERVIS-7", "Na vývoji", {FIELD: None}, (BACK,)), NO_CHAIN, ())
    assert empty.rule is Rule.ENTRY_REQUIREMENT, "on_enter already asks for the PBI: one comment"


def test_targito_asks_for_the_development_issue_key() -> None:
    wf = load_file(SHIPPED / "targito-support.yaml")
    assert wf.development is not None
    frm = Transition("51", "Back", "Waiting for PM")
    event = Event(
        "jira", Kind.STATUS_CHANGED, "TS-3", AGENT, "TS", None, "Mám námět na novou funkci",
        "Waiting for PM", "Waiting for development",
    )  # fmt: skip
    ticket = Ticket("TS-3", "Waiting for development", {wf.development.field: "feature 12"}, (frm,))
    d = decide(event, wf, ticket, NO_CHAIN, ())
    assert d.verdict is Verdict.REVERTED and d.rule is Rule.DEV_ITEM
    assert "'feature 12'" in d.actions[1].body  # type: ignore[union-attr]
    ticket = Ticket("TS-3", "Waiting for development", {wf.development.field: "dev-12"}, (frm,))
    assert decide(event, wf, ticket, NO_CHAIN, ()).needs == {Need.ITEMS}

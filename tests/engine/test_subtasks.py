"""Sub-tasks on plain data: a ticket closes only once every sub-task is done, whoever closes
it, and moves on by itself when the last one is done (where the workflow says so)."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.engine import (
    NO_CHAIN,
    Actor,
    CommentAction,
    Decision,
    Event,
    Kind,
    Need,
    Role,
    Rule,
    TaskRef,
    Ticket,
    Transition,
    TransitionAction,
    Verdict,
    decide,
)
from bridge.engine.subtasks import decide_parent
from bridge.workflows.model import Workflow


def workflow(**subtasks: Any) -> Workflow:
    """Field-service tickets: closed only with their tasks done; a customer may close a
    ticket that waits for their confirmation."""
    section = {
        "closing": ["closed"],
        "messages": {"open_tasks": "{from_status} → {to_status} reverted: {count} open: {tasks}."},
        **subtasks,
    }
    return Workflow.model_validate(
        {
            "name": "field",
            "applies_to": {"issue_types": ["Zgłoszenie"]},
            "statuses": {
                "new": "Nowe",
                "in_progress": "W toku",
                "confirming": "Do potwierdzenia",
                "closed": "Zamknięte",
            },
            "initial": "new",
            "flow": {
                "new": ["in_progress", "closed"],
                "in_progress": ["confirming", "closed"],
                "confirming": ["in_progress", "closed"],
                "closed": ["in_progress"],
            },
            "customer_transitions": [{"from": "confirming", "to": "closed"}],
            "subtasks": section,
        }
    )


FIELD = workflow()
THEN = workflow(then={"status": "closed", "from": ["in_progress"], "comment": "{ticket}: done {tasks} → {next}"})
AGENT = Actor("5b10", "Piotr", Role.AGENT)
CUSTOMER = Actor("qm:1", "Anna", Role.CUSTOMER)
BACK = Transition("31", "Wznów", "W toku")
CLOSE = Transition("41", "Zamknij", "Zamknięte")
COMPRESSOR = TaskRef("WAR-2", "Wymiana sprężarki", "W toku")
FILTER = TaskRef("WAR-3", "Czyszczenie filtra", "Gotowe", done=True)
VISIT = TaskRef("WAR-4", "Druga wizyta", "Do zrobienia")


def close(actor: Actor = AGENT, frm: str = "W toku") -> Event:
    return Event("jira", Kind.STATUS_CHANGED, "WAR-1", actor, "WAR", "Zgłoszenie", None, frm, "Zamknięte")


def closed(*tasks: TaskRef, status: str = "Zamknięte", listed: bool = True) -> Ticket:
    back = Transition("31", "Wznów", "W toku")
    return Ticket("WAR-1", status, {}, (back, Transition("32", "Potwierdź", "Do potwierdzenia")),
                  subtasks=tasks if listed else None)


def judge(event: Event, ticket: Ticket | None, wf: Workflow = FIELD) -> Decision:
    return decide(event, wf, ticket, NO_CHAIN, ())


# -- closing ---------------------------------------------------------------------------------
def test_an_agent_closing_with_open_tasks_is_reverted_with_the_open_tasks_named():
    decision = judge(close(), closed(COMPRESSOR, FILTER, VISIT))
    assert (decision.verdict, decision.rule) == (Verdict.REVERTED, Rule.SUBTASKS_OPEN)
    back, comment = decision.actions
    assert back == TransitionAction("WAR-1", "31", "W toku", "Zamknięte")
    assert isinstance(comment, CommentAction) and not comment.public, "an agent is told internally"
    assert comment.body == (
        "W toku → Zamknięte reverted: 2 open: WAR-2 Wymiana sprężarki (W toku), "
        "WAR-4 Druga wizyta (Do zrobienia)."
    )
    assert "WAR-3" not in comment.body and "WAR-2 W toku" in decision.reason


def test_a_customer_closing_with_an_open_task_is_reverted_and_told_publicly():
    decision = judge(close(CUSTOMER, "Do potwierdzenia"), closed(COMPRESSOR))
    assert (decision.verdict, decision.rule) == (Verdict.REVERTED, Rule.SUBTASKS_OPEN)
    back, comment = decision.actions
    assert isinstance(back, TransitionAction) and back.to_status == "Do potwierdzenia"
    assert isinstance(comment, CommentAction) and comment.public and "WAR-2" in comment.body


@pytest.mark.parametrize(("tasks", "listed", "says"), [
    ((FILTER, TaskRef("WAR-5", "Odbiór", "Anulowane", done=True)), True, "every sub-task is done: WAR-3 Gotowe, WAR-5 Anulowane"),
    ((), True, "no sub-tasks"),
    ((), False, "the tracker listed no sub-tasks"),
])  # fmt: skip
def test_closing_with_every_task_done_or_none_stands(tasks, listed, says):
    decision = judge(close(), closed(*tasks, listed=listed))
    assert (decision.verdict, decision.rule, decision.actions) == (Verdict.ALLOWED, Rule.SUBTASKS_DONE, ())
    assert decision.reason.endswith(says)


def test_the_ticket_is_read_only_for_a_close():
    """Other moves cost no tracker call: the sub-tasks matter only on the way into `closing`."""
    assert judge(close(), None).needs == frozenset({Need.TICKET})
    moving = Event("jira", Kind.STATUS_CHANGED, "WAR-1", AGENT, "WAR", "Zgłoszenie", None, "Nowe", "W toku")
    assert (judge(moving, None).verdict, judge(moving, None).rule) == (Verdict.ALLOWED, Rule.ALLOWED)


def test_a_ticket_reopened_before_it_was_judged_is_left_alone():
    decision = judge(close(), closed(COMPRESSOR, status="W toku"))
    assert (decision.verdict, decision.actions) == (Verdict.STALE, ())


def test_with_no_way_back_the_agents_are_told_which_tasks_are_open():
    ticket = Ticket("WAR-1", "Zamknięte", {}, (), subtasks=(COMPRESSOR,))
    decision = judge(close(), ticket)
    assert (decision.verdict, decision.rule) == (Verdict.NEEDS_ATTENTION, Rule.SUBTASKS_OPEN)
    (note,) = decision.actions
    assert isinstance(note, CommentAction) and not note.public and "W toku" in note.body


def test_a_customer_move_that_is_not_theirs_is_reverted_as_forbidden_first():
    decision = judge(close(CUSTOMER), closed(COMPRESSOR))
    assert (decision.verdict, decision.rule) == (Verdict.REVERTED, Rule.CUSTOMER_TRANSITION)


# -- the last open task done -------------------------------------------------------------------
def parent(*tasks: TaskRef, status: str = "W toku", ways: tuple[Transition, ...] = (CLOSE,)) -> Ticket:
    return Ticket("WAR-1", status, {}, ways, subtasks=tasks)


def test_the_last_task_done_moves_the_parent_on_with_the_comment():
    decision = decide_parent(parent(FILTER, TaskRef("WAR-2", "Wymiana sprężarki", "Gotowe", done=True)), THEN, "WAR-2")
    assert (decision.verdict, decision.rule) == (Verdict.RETURNED, Rule.SUBTASKS_FINISHED)
    move, comment = decision.actions
    assert move == TransitionAction("WAR-1", "41", "Zamknięte", "W toku")
    assert isinstance(comment, CommentAction) and not comment.public
    assert comment.body == "WAR-1: done WAR-3 Czyszczenie filtra (Gotowe), WAR-2 Wymiana sprężarki (Gotowe) → Zamknięte"


@pytest.mark.parametrize(("ticket", "says"), [
    (parent(FILTER, COMPRESSOR), "WAR-1 stays: not done: WAR-2 W toku"),
    (parent(), "it lists no sub-tasks"),
    (parent(FILTER, status="Nowe"), "it is in 'Nowe': it does not move on from there by itself"),
    (parent(FILTER, status="Zamknięte"), "it is in 'Zamknięte': already there"),
])  # fmt: skip
def test_a_parent_with_tasks_open_or_not_where_it_moves_on_from_stays(ticket, says):
    decision = decide_parent(ticket, THEN, "WAR-3")
    assert (decision.verdict, decision.rule, decision.actions) == (Verdict.IGNORED, Rule.SUBTASK_CHANGED, ())
    assert decision.reason.endswith(says)


def test_a_workflow_that_does_not_move_parents_on_leaves_them():
    decision = decide_parent(parent(FILTER), FIELD, "WAR-3")
    assert (decision.verdict, decision.actions) == (Verdict.IGNORED, ())


def test_a_parent_with_no_way_on_is_left_to_the_agents_with_a_note():
    decision = decide_parent(parent(FILTER, ways=(BACK,)), THEN, "WAR-3")
    assert (decision.verdict, decision.rule) == (Verdict.NEEDS_ATTENTION, Rule.SUBTASKS_FINISHED)
    (note,) = decision.actions
    assert isinstance(note, CommentAction) and not note.public and "WAR-3" in note.body

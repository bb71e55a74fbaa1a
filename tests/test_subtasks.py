"""A sub-task's status change judged on its parent: the parent is read once, and only where
its workflow moves tickets on by their sub-tasks."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bridge.engine import Actor, Event, Kind, Role, Rule, TaskRef, Ticket, Transition, Verdict
from bridge.subtasks import judge_parent
from bridge.workflows import load_dir

SHIPPED = Path(__file__).resolve().parents[1] / "workflows"


class Parents:
    """A tracker that knows one parent and records what was read of it."""

    def __init__(self, ticket: Ticket) -> None:
        self.found = ticket
        self.reads: list[tuple[str, list[str]]] = []

    async def ticket(self, key: str, fields: Iterable[str] = ()) -> Ticket:
        self.reads.append((key, list(fields)))
        return self.found


def task_moved(parent_type: str | None = "Zgłoszenie", kind: Kind = Kind.STATUS_CHANGED) -> Event:
    parent = TaskRef("WAR-1", "Awaria chłodni", "W toku", issue_type=parent_type)
    snapshot = Ticket("WAR-2", "Gotowe", {}, None, parent=parent)
    return Event("jira", kind, "WAR-2", Actor("agent-7", role=Role.AGENT), "WAR", "Sub-task", None,
                 "W realizacji", "Gotowe", snapshot=snapshot)


WAR_1 = Ticket("WAR-1", "W toku", {}, (Transition("41", "Zamknij", "Zamknięte"),),
               subtasks=(TaskRef("WAR-2", "Wymiana sprężarki", "Gotowe", done=True),))


def closing_by_itself(tmp_path: Path) -> Path:
    for source in SHIPPED.glob("*.yaml"):
        text = source.read_text(encoding="utf-8")
        if source.name == "warranticon.yaml":
            text = text.replace("  # then:\n  #   status: closed\n", "  then:\n    status: closed\n")
        (tmp_path / source.name).write_text(text, encoding="utf-8")
    return tmp_path


async def test_the_shipped_workflow_moves_nothing_on_and_reads_nothing():
    tracker = Parents(WAR_1)
    assert await judge_parent(tracker, load_dir(SHIPPED), task_moved()) is None
    assert tracker.reads == []


async def test_where_the_workflow_moves_tickets_on_the_parent_is_read_once_with_its_sub_tasks(tmp_path):
    tracker = Parents(WAR_1)
    decision = await judge_parent(tracker, load_dir(closing_by_itself(tmp_path)), task_moved())
    assert decision is not None and (decision.verdict, decision.rule) == (Verdict.RETURNED, Rule.SUBTASKS_FINISHED)
    assert tracker.reads == [("WAR-1", ["subtasks"])]


async def test_no_parent_another_type_or_another_change_reads_nothing(tmp_path):
    workflows, tracker = load_dir(closing_by_itself(tmp_path)), Parents(WAR_1)
    for event in (task_moved("Servis"), task_moved(None), task_moved(kind=Kind.UPDATED)):
        assert await judge_parent(tracker, workflows, event) is None
    assert tracker.reads == []

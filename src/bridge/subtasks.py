"""A sub-task's status change judged on its parent: whether the parent moves on by itself now
that its last open sub-task is done.

Sub-tasks are of an issue type of their own, which no workflow governs; what makes their
change matter is the workflow of the ticket they belong to. The delivery names the parent
and its issue type, so the parent is read (once) only where that workflow moves tickets on
by their sub-tasks (`subtasks.then`): every other sub-task change costs no tracker call.
The parent is judged as it is now, so a late, repeated or reconciled delivery moves it at
most once, and the executor's check of the status a move was judged in covers the rest.
"""

from __future__ import annotations

from bridge.engine import Decision, Event, Kind
from bridge.engine.subtasks import decide_parent
from bridge.trackers.base import Tracker
from bridge.workflows.loader import WorkflowSet


async def judge_parent(tracker: Tracker, workflows: WorkflowSet, event: Event) -> Decision | None:
    """The decision on the parent of the sub-task `event` moved; None when the event is no
    sub-task's status change or its parent's workflow moves nothing on by sub-tasks."""
    parent = event.snapshot.parent if event.snapshot is not None else None
    if event.kind is not Kind.STATUS_CHANGED or parent is None or event.ticket is None:
        return None
    workflow = workflows.for_ticket(event.project, parent.issue_type, None)
    if workflow is None or workflow.subtasks is None or workflow.subtasks.then is None:
        return None
    ticket = await tracker.ticket(parent.key, sorted(workflow.required_fields()))
    return decide_parent(ticket, workflow, event.ticket)

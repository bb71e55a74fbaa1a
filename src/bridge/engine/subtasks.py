"""Sub-tasks: a ticket closes only once its sub-tasks are done, and may move on by itself
when the last of them is.

Pure, like `decide`. The sub-tasks come with the ticket (`Ticket.subtasks`, each with
whether the tracker counts its status as done), so closing costs no call per sub-task:
the workflow asks for them among its required fields and the judge's one read of the
ticket brings them. A move into a closing status that the other rules let stand is checked
here; one that must be undone is answered with `OpenTasks`, and the revert itself is
`decide`'s, as for every other rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bridge.engine.model import (
    Action,
    CommentAction,
    Decision,
    Event,
    Need,
    Rule,
    TaskRef,
    Ticket,
    TransitionAction,
    Verdict,
)
from bridge.workflows.model import Workflow
from bridge.workflows.subtasks import Subtasks


@dataclass(frozen=True)
class OpenTasks:
    """The close must be reverted: why, for the audit log, and the comment that says it."""

    reason: str
    text: str


def closing(event: Event, workflow: Workflow, decision: Decision) -> bool:
    """Whether a decision lets a ticket into one of its workflow's closing statuses, so that
    its sub-tasks must be checked before the move stands."""
    return (
        workflow.subtasks is not None
        and decision.verdict is Verdict.ALLOWED
        and decision.rule in (Rule.ALLOWED, Rule.REQUIREMENTS_MET)
        and workflow.status_id(event.to_status) in workflow.subtasks.closing
    )


def check_close(
    event: Event, workflow: Workflow, ticket: Ticket | None, decision: Decision
) -> Decision | OpenTasks:
    """`decision` (the move allowed by the other rules) if every sub-task is done, or
    `OpenTasks` naming those that are not."""
    rules = workflow.subtasks
    assert rules is not None and event.ticket is not None
    if ticket is None:
        return Decision(Verdict.NEEDS, Rule.NEEDS, "more facts needed", workflow.name, needs=frozenset({Need.TICKET}))
    if ticket.status.casefold() != (event.to_status or "").casefold():
        return Decision(
            Verdict.STALE,
            Rule.STALE,
            f"ticket is now in '{ticket.status}', not '{event.to_status}': nothing to check",
            workflow.name,
        )
    tasks = ticket.subtasks or ()
    still = [task for task in tasks if not task.done]
    if still:
        values = {
            "ticket": event.ticket,
            "from_status": event.from_status or "",
            "to_status": event.to_status or "",
            "actor": event.actor.name or event.actor.id or "unknown",
            "tasks": listed(rules, still),
            "count": str(len(still)),
        }
        return OpenTasks(f"sub-tasks not done: {_states(still)}", rules.messages.open_tasks.format_map(values))
    if ticket.subtasks is None:
        why = "the tracker listed no sub-tasks"
    else:
        why = f"every sub-task is done: {_states(tasks)}" if tasks else "no sub-tasks"
    return replace(decision, rule=Rule.SUBTASKS_DONE, reason=f"{decision.reason}; {why}")


# -- a sub-task changed ------------------------------------------------------------------------
def decide_parent(parent: Ticket, workflow: Workflow, changed: str) -> Decision:
    """Whether `parent`, one of whose sub-tasks (`changed`) just changed status, moves on by
    itself now: every sub-task is done and it is where the workflow moves it on from. Judged
    on the parent as it is now, so a late or repeated delivery moves nothing twice."""
    rules = workflow.subtasks
    name = workflow.name
    if rules is None or rules.then is None:
        return Decision(Verdict.IGNORED, Rule.NO_RULE, "the workflow moves no ticket on by its sub-tasks", name)
    tasks = parent.subtasks or ()
    still = [task for task in tasks if not task.done]
    if still or not tasks:
        waiting = f"not done: {_states(still)}" if still else "it lists no sub-tasks"
        return Decision(Verdict.IGNORED, Rule.SUBTASK_CHANGED, f"{changed} changed; {parent.key} stays: {waiting}", name)
    target = workflow.statuses[rules.then.status]
    here = workflow.status_id(parent.status)
    if here not in rules.then.starts(workflow.flow):
        where = "already there" if here == rules.then.status else "it does not move on from there by itself"
        return Decision(
            Verdict.IGNORED,
            Rule.SUBTASK_CHANGED,
            f"{changed} changed; every sub-task of {parent.key} is done; it is in '{parent.status}': {where}",
            name,
        )
    done = listed(rules, tasks)
    reason = f"{changed} changed; every sub-task of {parent.key} is done ({_states(tasks)}): → {target}"
    way = _transition_to(parent, target)
    if way is None:
        note = rules.messages.stuck.format_map(
            {"ticket": parent.key, "tasks": done, "status": parent.status, "next": target}
        )
        return Decision(
            Verdict.NEEDS_ATTENTION,
            Rule.SUBTASKS_FINISHED,
            f"{reason}; no transition leads to '{target}'",
            name,
            actions=(CommentAction(parent.key, note, public=False),),
        )
    comment = rules.then.comment.format_map({"ticket": parent.key, "tasks": done, "next": target})
    actions: tuple[Action, ...] = (
        TransitionAction(parent.key, way or None, target, parent.status),
        CommentAction(parent.key, comment, public=rules.then.public),
    )
    return Decision(Verdict.RETURNED, Rule.SUBTASKS_FINISHED, reason, name, actions=actions)


# -- shared ------------------------------------------------------------------------------------
def listed(rules: Subtasks, tasks: Sequence[TaskRef]) -> str:
    """The tasks as the workflow's texts name them, in the order the tracker lists them."""
    return ", ".join(
        rules.messages.task.format_map({"key": t.key, "summary": t.summary, "status": t.status}) for t in tasks
    )


def _states(tasks: Sequence[TaskRef]) -> str:
    return ", ".join(f"{task.key} {task.status}" for task in tasks)


def _transition_to(ticket: Ticket, status: str) -> str | None:
    """The id of the transition leading to `status` ('' when the transitions are unknown,
    judging without a tracker), or None when none does."""
    if ticket.transitions is None:
        return ""
    wanted = status.casefold()
    return next((t.id for t in ticket.transitions if t.to_status.casefold() == wanted), None)

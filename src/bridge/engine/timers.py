"""Timers: what to do about a ticket that has stayed in its status for a while.

Pure, like `decide`: the caller reads the ticket, the moment it last entered its status
(from its history, never from a tracker query) and the clock, and acts on the answer. The
clock counts from the **last** entry, so a ticket returned and sent back for approval starts
again from zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridge.engine.model import (
    CommentAction,
    Decision,
    Rule,
    StatusChange,
    Ticket,
    TransitionAction,
    Verdict,
)
from bridge.workflows.calendar import Calendar
from bridge.workflows.model import Workflow
from bridge.workflows.timers import Timer

SHOWN = "%d.%m.%Y %H:%M"


@dataclass(frozen=True)
class Stay:
    """A ticket's stay in its current status."""

    ticket: Ticket  # as it is now, with the transitions open from its status
    entered: datetime  # its last entry into that status
    reminded: frozenset[int] = frozenset()  # reminders already sent during this stay


@dataclass(frozen=True)
class Due:
    """A running timer: when it runs out, when its reminders fall due, and why."""

    status: str
    timer: Timer
    entered: datetime
    deadline: datetime
    reminders: tuple[datetime, ...]


def entered(history: tuple[StatusChange, ...], status: str, since: datetime | None) -> datetime | None:
    """When the ticket last entered `status`: its last change into it (whoever made it), or
    `since` (its creation) when none did."""
    wanted = status.casefold()
    moves = [c.at for c in history if c.to_status.casefold() == wanted]
    return max(moves) if moves else since


def step_of(decision: Decision) -> str | None:
    """The step a timer decision takes: `expire`, `remind-N`, or None when nothing is due."""
    if decision.rule is Rule.TIMER_EXPIRED:
        return "expire"
    if decision.reminder is not None:
        return f"remind-{decision.reminder}"
    return None


def due(stay: Stay, workflow: Workflow, calendar: Calendar) -> Due | None:
    """The timer running on this stay, or None when its status has none."""
    sid = workflow.status_id(stay.ticket.status)
    timer = workflow.timers.get(sid) if sid else None
    if timer is None:
        return None
    deadline = calendar.after(stay.entered, timer.duration)
    reminders = tuple(calendar.before(deadline, r.offset) for r in timer.reminders)
    return Due(stay.ticket.status, timer, stay.entered, deadline, reminders)


def decide_timer(stay: Stay, workflow: Workflow, calendar: Calendar, now: datetime) -> Decision:
    """Move the ticket along its timer's path once time has run out; before that, send the
    latest reminder that has fallen due and was not sent in this stay."""
    running = due(stay, workflow, calendar)
    if running is None:
        return Decision(Verdict.IGNORED, Rule.NO_TIMER, f"no timer in '{stay.ticket.status}'", workflow.name)
    if now >= running.deadline:
        if running.timer.path:
            return _expire(stay, workflow, calendar, running)
        if len(running.timer.reminders) not in stay.reminded:  # a timer that only speaks
            text = running.timer.comment.format_map(_values(stay, running, calendar))
            return Decision(
                Verdict.REMINDED, Rule.TIMER_REMINDER,
                f"{running.timer.after} in '{running.status}' ran out", workflow.name,
                actions=(CommentAction(stay.ticket.key, text, public=running.timer.public),),
                reminder=len(running.timer.reminders),
            )
        return Decision(Verdict.IGNORED, Rule.TIMER_RUNNING, "ran out; its comment was posted", workflow.name)
    fallen = sorted((at, i) for i, at in enumerate(running.reminders) if at <= now)
    sent = [running.reminders[i] for i in stay.reminded if i < len(running.reminders)]
    if not fallen or any(at >= fallen[-1][0] for at in sent):
        until = _shown(running.deadline, calendar)
        return Decision(Verdict.IGNORED, Rule.TIMER_RUNNING, f"runs out on {until}", workflow.name)
    index = fallen[-1][1]  # only the latest: a sweep after a long pause sends one, not all
    reminder = running.timer.reminders[index]
    text = reminder.comment.format_map(_values(stay, running, calendar, left=reminder.before))
    return Decision(
        Verdict.REMINDED,
        Rule.TIMER_REMINDER,
        f"{reminder.before} before {running.timer.after} in '{running.status}' run out",
        workflow.name,
        actions=(CommentAction(stay.ticket.key, text, public=reminder.public),),
        reminder=index,
    )


def _expire(stay: Stay, workflow: Workflow, calendar: Calendar, running: Due) -> Decision:
    timer = running.timer
    names = [workflow.statuses[step] for step in timer.path]
    values = _values(stay, running, calendar)
    reason = f"{timer.after} in '{running.status}' since {values['entered']} ran out on {values['deadline']}"
    first = _transition_to(stay.ticket, names[0])
    if first is None:
        note = workflow.messages.timer_stuck.format_map({**values, "next": names[0]})
        return Decision(
            Verdict.NEEDS_ATTENTION,
            Rule.TIMER_EXPIRED,
            f"{reason}; no transition leads to '{names[0]}'",
            workflow.name,
            actions=(CommentAction(stay.ticket.key, note, public=False),),
        )
    steps = [TransitionAction(stay.ticket.key, first or None, names[0], stay.ticket.status)]
    steps += [  # the later steps' transitions are known once the ticket gets there
        TransitionAction(stay.ticket.key, None, name, before)
        for before, name in zip(names, names[1:], strict=False)
    ]
    comment = CommentAction(stay.ticket.key, timer.comment.format_map(values), public=timer.public)
    return Decision(
        Verdict.EXPIRED, Rule.TIMER_EXPIRED, f"{reason}: → {' → '.join(names)}", workflow.name,
        actions=(*steps, comment),
    )


def _transition_to(ticket: Ticket, status: str) -> str | None:
    """The id of the transition leading to `status` ('' when the transitions are unknown,
    judging without a tracker), or None when none does."""
    if ticket.transitions is None:
        return ""
    wanted = status.casefold()
    return next((t.id for t in ticket.transitions if t.to_status.casefold() == wanted), None)


def _values(stay: Stay, running: Due, calendar: Calendar, left: str = "") -> dict[str, str]:
    return {
        "ticket": stay.ticket.key,
        "status": running.status,
        "after": running.timer.after,
        "deadline": _shown(running.deadline, calendar),
        "entered": _shown(stay.entered, calendar),
        "left": left,
    }


def _shown(moment: datetime, calendar: Calendar) -> str:
    return moment.astimezone(calendar.zone).strftime(SHOWN)

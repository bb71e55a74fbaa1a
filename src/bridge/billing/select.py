"""What is billable on a ticket in a period, and the bill it makes. Pure: no I/O, no clock.

A ticket is billed in the period in which it *first* reached a billable status, with all the
work logged on it, whenever it was logged: the service sheet is the whole ticket. Re-opening
it and finishing it again does not move it to a later period, or finance would see the same
work twice; only what changed since it was billed is billed then: work logged later (late
lines), and worklogs whose hours were changed or that were deleted (adjustments, with the
reason). What has been billed is told by the caller (`billed`, from the ledger of final
runs), so a final run that is repeated, or an export that is only previewed, bills nothing
twice.

A ticket is billed only while it stands in a billable status: one that was re-opened is
billed once it is done again, and a cancelled one never, whatever was logged on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from bridge.billing.model import Approval, Bill, Line, LineKind, Period, hours
from bridge.engine.model import Role, StatusChange, WorkedTicket, Worklog
from bridge.workflows.model import Workflow

_EARLIEST = datetime.min.replace(tzinfo=UTC)


def first_billable(ticket: WorkedTicket, workflow: Workflow) -> StatusChange | None:
    """The change that first brought the ticket into a billable status: the moment that
    decides its period."""
    if workflow.billing is None:
        return None
    billable = workflow.billing.billable
    return next((c for c in ticket.history if workflow.status_id(c.to_status) in billable), None)


def approver(ticket: WorkedTicket, workflow: Workflow, done: StatusChange) -> StatusChange | None:
    """The last move into the approval status up to `done`: the approval the bill rests on,
    not one given after the ticket was re-opened."""
    if workflow.billing is None or workflow.billing.approval is None:
        return None
    found = None
    for change in ticket.history:
        if change.at > done.at:
            break
        if workflow.status_id(change.to_status) == workflow.billing.approval:
            found = change
    return found


def approval(change: StatusChange | None, bridge_ids: frozenset[str], role: Role) -> Approval:
    """Who approved: the bridge's timer (its own account made the move), the customer, or
    someone of the team. `role` is the role of the change's actor, as the caller found it."""
    if change is None:
        return Approval.NONE
    if change.actor.id in bridge_ids or role is Role.BRIDGE:
        return Approval.AUTO
    if role is Role.CUSTOMER:
        return Approval.MANUAL
    return Approval.AGENT


def bill(
    ticket: WorkedTicket,
    workflow: Workflow,
    period: Period,
    billed: Mapping[str, int] | None,
    approval: Approval,
    *,
    passed_over: bool = False,
) -> Bill | None:
    """The ticket's bill in `period`, or None when nothing on it is billed there.

    `billed` maps each worklog id to the seconds final runs have billed for it so far; None
    means the ticket was never billed, and `{}` that it was billed with no worklogs.
    `passed_over`: a final run of the period the ticket was done in was made while it was
    not billable (re-opened), so it was never billed there; it is billed now, all its work
    as late work, rather than never.
    """
    billing = workflow.billing
    if billing is None or workflow.status_id(ticket.status) not in billing.billable:
        return None
    done = first_billable(ticket, workflow)
    if done is None or done.at >= period.ends:
        return None
    if billed is None:
        if period.holds(done.at):
            lines = [_line(LineKind.WORK, w) for w in ticket.worklogs]
        elif passed_over:
            lines = [_line(LineKind.LATE, w) for w in ticket.worklogs if w.seconds]
        else:
            return None  # done in an earlier period: that period's export bills it
    else:
        lines = _since(ticket.worklogs, billed)
        if not lines:
            return None
    lines.sort(key=_order)
    lines += _rounding(lines, billing.rounding_seconds)
    return Bill(
        ticket=ticket.key,
        summary=ticket.summary,
        issue_type=ticket.issue_type,
        organization=ticket.organization,
        reporter=ticket.reporter,
        done_at=done.at,
        approval=approval,
        workflow=workflow.name,
        lines=tuple(lines),
    )


def _since(worklogs: Iterable[Worklog], billed: Mapping[str, int]) -> list[Line]:
    """What changed since the ticket was billed: late work, changed and deleted worklogs."""
    lines: list[Line] = []
    present = set()
    for worklog in worklogs:
        present.add(worklog.id)
        before = billed.get(worklog.id)
        if before is None:
            if worklog.seconds:
                lines.append(_line(LineKind.LATE, worklog))
        elif worklog.seconds != before:
            reason = f"hours changed from {hours(before)} to {hours(worklog.seconds)}"
            lines.append(_line(LineKind.ADJUSTMENT, worklog, worklog.seconds - before, reason))
    for worklog_id, seconds in billed.items():
        if worklog_id not in present and seconds:
            reason = f"worklog deleted ({hours(seconds)} h billed)"
            lines.append(Line(LineKind.ADJUSTMENT, -seconds, worklog_id, reason=reason))
    return lines


def _line(kind: LineKind, worklog: Worklog, seconds: int | None = None, reason: str = "") -> Line:
    return Line(
        kind=kind,
        seconds=worklog.seconds if seconds is None else seconds,
        worklog_id=worklog.id,
        author=worklog.author,
        started=worklog.started,
        comment=worklog.comment,
        reason=reason,
    )


def _order(line: Line) -> tuple[bool, bool, datetime, int, str]:
    """Work as it was done, then adjustments (deleted worklogs last); ids of equal length
    compare as numbers, so the tracker's numeric ids keep their order."""
    wid, started = line.worklog_id or "", line.started
    adjustment = line.kind is LineKind.ADJUSTMENT
    return (adjustment, started is None, started or _EARLIEST, len(wid), wid)


def _rounding(lines: list[Line], step: int | None) -> list[Line]:
    """The line that rounds the bill's total up to a multiple of `step`; a total that takes
    hours back, or bills none, is left as it is."""
    total = sum(line.seconds for line in lines)
    if step is None or total <= 0 or total % step == 0:
        return []
    return [Line(LineKind.ROUNDING, step - total % step)]

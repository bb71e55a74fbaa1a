"""What a billing export is made of: the period asked for, each ticket's bill with its
lines, and the flat rows the writers put out. Plain data, no I/O.

A **bill** is one ticket's share of one export: the ticket as finance sees it and the
worklog **lines** billed on it now. A line is new work, late work (logged after the ticket
was billed in an earlier final run), or an adjustment of a worklog billed before whose hours
were changed or that was deleted (the difference, with the reason). A **rounding** line
carries what rounding added to the ticket's total, so that lines always add up to the bill.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo


class Approval(str, enum.Enum):
    MANUAL = "manual"  # a customer moved the ticket to the approval status
    AUTO = "auto"  # the bridge's timer did
    AGENT = "agent"  # someone of the support team did
    NONE = ""  # the ticket never passed the approval status


class LineKind(str, enum.Enum):
    WORK = "work"  # work on a ticket billed for the first time
    LATE = "late"  # work logged after the ticket was billed in an earlier final run
    ADJUSTMENT = "adjustment"  # a billed worklog changed or deleted since: the difference
    ROUNDING = "rounding"  # what rounding the ticket's total added


@dataclass(frozen=True)
class Period:
    """Whole days `first` to `last`, both inclusive, in `zone`."""

    first: date
    last: date
    zone: ZoneInfo

    @property
    def starts(self) -> datetime:
        return datetime.combine(self.first, time(), self.zone)

    @property
    def ends(self) -> datetime:
        """The first moment after the period (midnight after `last`, in `zone`)."""
        return datetime.combine(self.last + timedelta(days=1), time(), self.zone)

    def holds(self, moment: datetime) -> bool:
        return self.starts <= moment < self.ends

    def __str__(self) -> str:
        return f"{self.first.isoformat()}..{self.last.isoformat()}"


@dataclass(frozen=True)
class Line:
    """Seconds billed now for one worklog (None for a rounding line)."""

    kind: LineKind
    seconds: int  # negative for an adjustment that takes hours back
    worklog_id: str | None = None
    author: str = ""
    started: datetime | None = None
    comment: str = ""
    reason: str = ""  # adjustments: what changed, e.g. "hours changed from 2.00 to 1.50"


@dataclass(frozen=True)
class Bill:
    """One ticket's share of one export."""

    ticket: str
    summary: str
    issue_type: str
    organization: str
    reporter: str
    done_at: datetime  # when the ticket first reached a billable status
    approval: Approval
    workflow: str
    lines: tuple[Line, ...]

    @property
    def seconds(self) -> int:
        """What is billed for the ticket now: every line, rounding included."""
        return sum(line.seconds for line in self.lines)

    @property
    def kinds(self) -> str:
        """The kinds of its lines, e.g. `work` or `late+adjustment`, rounding left out."""
        found = dict.fromkeys(l.kind.value for l in self.lines if l.kind is not LineKind.ROUNDING)
        return "+".join(found)


def hours(seconds: int) -> Decimal:
    """Seconds as hours with two decimals (half up), as finance reads them."""
    value = (Decimal(seconds) / Decimal(3600)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return value + 0  # a few seconds taken back are 0.00, not -0.00


# The columns of an export, in order. `worklog` granularity adds WORKLOG_COLUMNS.
TICKET_COLUMNS = (
    "ticket", "summary", "type", "organization", "reporter", "done_at", "approval", "kind",
    "hours", "reason",
)
WORKLOG_COLUMNS = ("worklog_id", "author", "started", "comment")


@dataclass(frozen=True)
class Row:
    """One row of an export: a whole bill (`ticket` granularity) or one of its lines
    (`worklog` granularity, where the worklog fields are set)."""

    ticket: str
    summary: str
    type: str
    organization: str
    reporter: str
    done_at: datetime
    approval: str
    kind: str
    seconds: int
    reason: str = ""
    worklog_id: str | None = None
    author: str = ""
    started: datetime | None = None
    comment: str = ""

    @property
    def hours(self) -> Decimal:
        return hours(self.seconds)


def rows_of(bill: Bill, granularity: str) -> list[Row]:
    """`bill` as the rows of an export at `granularity` (`ticket` or `worklog`)."""
    common = dict(
        ticket=bill.ticket, summary=bill.summary, type=bill.issue_type,
        organization=bill.organization, reporter=bill.reporter, done_at=bill.done_at,
        approval=bill.approval.value,
    )
    if granularity == "ticket":
        reasons = "; ".join(l.reason for l in bill.lines if l.reason)
        return [Row(**common, kind=bill.kinds, seconds=bill.seconds, reason=reasons)]
    return [
        Row(
            **common, kind=line.kind.value, seconds=line.seconds, reason=line.reason,
            worklog_id=line.worklog_id, author=line.author, started=line.started,
            comment=line.comment,
        )
        for line in bill.lines
    ]

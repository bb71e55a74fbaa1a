"""The billing ledger: what every final export billed, kept so that no worklog is billed
twice and any final run can be exported again, identical, at any time.

A run is recorded whole or not at all. The bills are first spooled to a temporary file as
they are produced (they may come from a generator that reads the tracker for minutes), and
only then written in one short transaction: on SQLite a write transaction holds back every
other writer of the process, webhook intake included. Memory holds one chunk at a time.

Final runs of a tracker are serialised (a transaction-scoped advisory lock on PostgreSQL,
the write transaction itself on SQLite), and each chunk's worklogs are checked against
every earlier run inside the transaction, so two exports at once cannot both bill one
worklog; a unique index on work and late lines guards the same in the database itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Row, bindparam, func, insert, select, text

from bridge.billing.model import Approval, Bill, Line, LineKind, Period
from bridge.store.db import begin_write
from bridge.store.tables import billed_lines, billed_tickets, billing_runs
from bridge.store.values import aware, clean_text, now, text_lengths

CHUNK = 500  # rows (tickets and lines) written by one statement; also what memory holds
_BILLED_AS_WORK = (LineKind.WORK.value, LineKind.LATE.value)


@dataclass(frozen=True)
class BillingRun:
    """One final export: what it billed and who asked for it."""

    id: int
    tracker: str
    period: Period
    requested_by: str
    created_at: datetime
    tickets: int
    seconds: int


class LedgerConflict(Exception):
    """A worklog in the run was billed by another final run meanwhile (or appears twice in
    this one): `billed` maps each such worklog id to the run that billed it (None: this one).
    Nothing of the run was recorded; export again to bill what is left."""

    def __init__(self, tracker: str, billed: dict[str, int | None]) -> None:
        self.tracker = tracker
        self.billed = billed
        shown = ", ".join(
            f"{worklog} (run {run})" if run is not None else f"{worklog} (twice in this run)"
            for worklog, run in sorted(billed.items())[:10]
        )
        more = f" and {len(billed) - 10} more" if len(billed) > 10 else ""
        super().__init__(f"{tracker}: worklogs billed already: {shown}{more}")


def lock_id(tracker: str) -> int:
    """A stable 64-bit advisory lock id for the final runs of `tracker`."""
    name = f"ticket-bridge:billing-ledger:{tracker}".encode()
    return int.from_bytes(hashlib.sha256(name).digest()[:8], "big", signed=True)


_RUN_LENGTHS = text_lengths(billing_runs)
_TICKET_LENGTHS = text_lengths(billed_tickets)
_LINE_LENGTHS = text_lengths(billed_lines)

_LOCK = text("SELECT pg_advisory_xact_lock(:id)")
_INSERT_TICKETS = insert(billed_tickets).returning(billed_tickets.c.id, sort_by_parameter_order=True)
_INSERT_LINES = insert(billed_lines)
_BILLED_BEFORE = select(billed_lines.c.worklog_id, billed_lines.c.run_id).where(
    billed_lines.c.tracker == bindparam("tracker"),
    billed_lines.c.kind.in_(_BILLED_AS_WORK),
    billed_lines.c.worklog_id.in_(bindparam("worklogs", expanding=True)),
)
_BILLED = (
    select(billed_tickets.c.ticket, billed_lines.c.worklog_id, func.sum(billed_lines.c.seconds))
    .select_from(
        billed_tickets.outerjoin(
            billed_lines,
            (billed_lines.c.bill_id == billed_tickets.c.id)
            & billed_lines.c.worklog_id.is_not(None)
            & (billed_lines.c.kind != LineKind.ROUNDING.value),
        )
    )
    .where(
        billed_tickets.c.tracker == bindparam("tracker"),
        billed_tickets.c.ticket.in_(bindparam("tickets", expanding=True)),
    )
    .group_by(billed_tickets.c.ticket, billed_lines.c.worklog_id)
)
_BILLED_WORKLOGS = (
    select(billed_lines.c.worklog_id, func.sum(billed_lines.c.seconds))
    .where(
        billed_lines.c.tracker == bindparam("tracker"),
        billed_lines.c.worklog_id.in_(bindparam("worklogs", expanding=True)),
        billed_lines.c.kind != LineKind.ROUNDING.value,
    )
    .group_by(billed_lines.c.worklog_id)
)
WORKLOGS_PER_QUERY = 500
_LINE_COLUMNS = (
    billed_lines.c.kind,
    billed_lines.c.seconds,
    billed_lines.c.worklog_id,
    billed_lines.c.author,
    billed_lines.c.started,
    billed_lines.c.started_offset,
    billed_lines.c.comment,
    billed_lines.c.reason,
)
_BILLS = (
    select(billed_tickets, *_LINE_COLUMNS)
    .select_from(billed_tickets.outerjoin(billed_lines, billed_lines.c.bill_id == billed_tickets.c.id))
    .where(billed_tickets.c.run_id == bindparam("run_id"))
    .order_by(billed_tickets.c.position, billed_lines.c.position)
)


class Ledger:
    """The final runs of every tracker. Synchronous; the async side calls it through
    `asyncio.to_thread`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def billed(self, tracker: str, tickets: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per ticket ever billed, per worklog: the seconds billed on it over all final runs
        (its work or late line with every adjustment since; rounding is no worklog's). A
        ticket billed without worklogs maps to {}; tickets never billed are left out."""
        if not tickets:
            return {}
        found: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(_BILLED, {"tracker": tracker, "tickets": list(tickets)})
            for ticket, worklog, seconds in rows:
                worklogs = found.setdefault(ticket, {})
                if worklog is not None:
                    worklogs[worklog] = int(seconds)
        return found

    def billed_worklogs(self, tracker: str, worklogs: Sequence[str]) -> dict[str, int]:
        """Per worklog ever billed, on whichever ticket: the seconds billed on it over all
        final runs. A ticket moved to another project keeps its worklogs' ids under its new
        key, and they must not be billed again there."""
        found: dict[str, int] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(worklogs), WORKLOGS_PER_QUERY):
                chunk = list(worklogs[start : start + WORKLOGS_PER_QUERY])
                rows = conn.execute(_BILLED_WORKLOGS, {"tracker": tracker, "worklogs": chunk})
                found.update((worklog, int(seconds)) for worklog, seconds in rows)
        return found

    def record(
        self, tracker: str, period: Period, requested_by: str, bills: Iterable[Bill]
    ) -> BillingRun:
        """Record a final run and every bill in it, whole or not at all.

        `bills` is read to its end before the transaction begins. Raises what reading it
        raised, or `LedgerConflict` when a work or late line names a worklog an earlier
        final run billed; nothing is recorded then.
        """
        zone = period.zone.key
        if not zone:
            raise ValueError("the period's zone has no IANA name")
        requested_by = clean_text(requested_by, _RUN_LENGTHS["requested_by"]) or ""
        with _spooled(tracker, bills) as spool, begin_write(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(_LOCK, {"id": lock_id(tracker)})
            created_at = now()  # once its turn came: runs are numbered in this order too
            run_id = conn.execute(
                insert(billing_runs).returning(billing_runs.c.id),
                {
                    "tracker": tracker, "period_first": period.first, "period_last": period.last,
                    "zone": zone, "requested_by": requested_by, "created_at": created_at,
                    "tickets": spool.tickets, "seconds": spool.seconds,
                },
            ).scalar_one()
            for chunk in spool.chunks():
                _write_chunk(conn, tracker, run_id, chunk)
        return BillingRun(
            run_id, tracker, period, requested_by, created_at, spool.tickets, spool.seconds
        )

    def runs(self, tracker: str | None = None) -> list[BillingRun]:
        """Final runs, newest first."""
        query = select(billing_runs).order_by(billing_runs.c.id.desc())
        if tracker is not None:
            query = query.where(billing_runs.c.tracker == tracker)
        with self.engine.connect() as conn:
            return [_run(r) for r in conn.execute(query)]

    def run(self, run_id: int) -> BillingRun | None:
        with self.engine.connect() as conn:
            found = conn.execute(select(billing_runs).where(billing_runs.c.id == run_id)).first()
        return _run(found) if found is not None else None

    def bills(self, run_id: int) -> Iterator[Bill]:
        """The run's bills as they were recorded, in their order, read as they are used."""
        with self.engine.connect() as conn:
            rows = conn.execution_options(yield_per=CHUNK).execute(_BILLS, {"run_id": run_id})
            current: Row[Any] | None = None
            lines: list[Line] = []
            for row in rows:
                if current is not None and row.id != current.id:
                    yield _bill(current, lines)
                    lines = []
                current = row
                if row.kind is not None:
                    lines.append(_line(row))
            if current is not None:
                yield _bill(current, lines)

    def last_run_at(self, tracker: str) -> datetime | None:
        with self.engine.connect() as conn:
            return aware(
                conn.execute(
                    select(func.max(billing_runs.c.created_at)).where(billing_runs.c.tracker == tracker)
                ).scalar_one_or_none()
            )


# -- writing ------------------------------------------------------------------------------
# A chunk is a list of (ticket row, its line rows); a bill's lines stay with it.
Chunk = list[tuple[dict[str, Any], list[dict[str, Any]]]]


class _Spool:
    """A run's rows in a temporary file, chunk after chunk, with the run's totals."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.tickets = 0
        self.seconds = 0

    def put(self, chunk: Chunk) -> None:
        pickle.dump(chunk, self.file, pickle.HIGHEST_PROTOCOL)

    def chunks(self) -> Iterator[Chunk]:
        self.file.seek(0)
        while True:
            try:
                yield pickle.load(self.file)
            except EOFError:
                return


@contextlib.contextmanager
def _spooled(tracker: str, bills: Iterable[Bill]) -> Iterator[_Spool]:
    with tempfile.TemporaryFile() as file:
        spool = _Spool(file)
        chunk: Chunk = []
        size = 0
        for position, bill in enumerate(bills):
            chunk.append(_rows(tracker, position, bill))
            size += 1 + len(bill.lines)
            spool.tickets += 1
            spool.seconds += bill.seconds
            if size >= CHUNK:
                spool.put(chunk)
                chunk, size = [], 0
        if chunk:
            spool.put(chunk)
        yield spool


def _rows(tracker: str, position: int, bill: Bill) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ticket = _fit(_TICKET_LENGTHS, {
        "tracker": tracker, "position": position, "ticket": bill.ticket, "summary": bill.summary,
        "issue_type": bill.issue_type, "organization": bill.organization,
        "reporter": bill.reporter, "approval": Approval(bill.approval).value,
        "workflow": bill.workflow,
    })
    ticket["done_at"], ticket["done_at_offset"] = _stored_time(bill.done_at, bill.ticket)
    lines = []
    for at, line in enumerate(bill.lines):
        row = _fit(_LINE_LENGTHS, {
            "tracker": tracker, "ticket": bill.ticket, "position": at,
            "kind": LineKind(line.kind).value, "seconds": line.seconds,
            "worklog_id": line.worklog_id, "author": line.author, "comment": line.comment,
            "reason": line.reason,
        })
        row["started"], row["started_offset"] = (
            _stored_time(line.started, bill.ticket) if line.started is not None else (None, None)
        )
        lines.append(row)
    return ticket, lines


def _write_chunk(conn: Connection, tracker: str, run_id: int, chunk: Chunk) -> None:
    worklogs = [
        line["worklog_id"]
        for _, lines in chunk
        for line in lines
        if line["kind"] in _BILLED_AS_WORK and line["worklog_id"] is not None
    ]
    conflicts: dict[str, int | None] = {w: None for w, n in Counter(worklogs).items() if n > 1}
    if worklogs:
        for worklog, billed_in in conn.execute(_BILLED_BEFORE, {"tracker": tracker, "worklogs": worklogs}):
            conflicts[worklog] = None if billed_in == run_id else billed_in
    if conflicts:
        raise LedgerConflict(tracker, conflicts)
    bill_ids = conn.execute(
        _INSERT_TICKETS, [{**ticket, "run_id": run_id} for ticket, _ in chunk]
    ).scalars().all()
    line_rows = [
        {**line, "bill_id": bill_id, "run_id": run_id}
        for bill_id, (_, lines) in zip(bill_ids, chunk, strict=True)
        for line in lines
    ]
    if line_rows:
        conn.execute(_INSERT_LINES, line_rows)


def _fit(lengths: dict[str, int | None], row: dict[str, Any]) -> dict[str, Any]:
    for name, value in row.items():
        if isinstance(value, str):
            row[name] = clean_text(value, lengths.get(name))
    return row


def _stored_time(moment: datetime, ticket: str) -> tuple[datetime, int]:
    """`moment` in UTC, and the offset from UTC it was given with."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError(f"{ticket}: a time without its zone cannot be billed: {moment}")
    return moment.astimezone(UTC), int(offset.total_seconds())


def _given_time(stored: datetime, offset: int) -> datetime:
    return (aware(stored) or stored).astimezone(timezone(timedelta(seconds=offset)))


# -- reading ------------------------------------------------------------------------------
def _run(row: Row[Any]) -> BillingRun:
    return BillingRun(
        row.id, row.tracker, Period(row.period_first, row.period_last, ZoneInfo(row.zone)),
        row.requested_by, aware(row.created_at) or row.created_at, row.tickets, row.seconds,
    )


def _bill(row: Row[Any], lines: list[Line]) -> Bill:
    return Bill(
        ticket=row.ticket, summary=row.summary, issue_type=row.issue_type,
        organization=row.organization, reporter=row.reporter,
        done_at=_given_time(row.done_at, row.done_at_offset), approval=Approval(row.approval),
        workflow=row.workflow, lines=tuple(lines),
    )


def _line(row: Row[Any]) -> Line:
    started = _given_time(row.started, row.started_offset) if row.started is not None else None
    return Line(
        kind=LineKind(row.kind), seconds=row.seconds, worklog_id=row.worklog_id,
        author=row.author, started=started, comment=row.comment, reason=row.reason,
    )

"""Billing exports: the bills of a period, read from the tracker and checked against the
ledger, written in the format finance reads.

A **preview** writes nothing to the ledger. A **final** export hands the bills to the ledger as
they are read (it keeps them in a temporary file until the last, so neither memory nor the
database's write lock is held while the tracker answers), which records the run and its bills
in one short transaction; then the run is written from the ledger, exactly as `again` writes
it later: exporting a final run again gives
the same rows. A tracker failure before the run is recorded fails the export and records
nothing.

Which tickets are read: those in a billable status updated since the period began, or since
the last final run if that was earlier. Jira moves a ticket's `updated` with every worklog
added, edited or deleted, so late work and corrections on tickets billed before are found.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

from bridge.billing.model import Bill, Period, Row, hours, rows_of
from bridge.billing.select import approval, approver, bill, first_billable
from bridge.billing.writers import ExportHeader, Totals, write_export
from bridge.engine import Role, WorkedTicket
from bridge.store.ledger import BillingRun, Ledger
from bridge.trackers.base import NotOnSite, Search, Tracker, TrackerRejected
from bridge.workflows.loader import WorkflowSet
from bridge.workflows.model import Workflow

log = logging.getLogger(__name__)
PAGE = 100  # tickets checked against the ledger in one query
# Read a day further back than the last final run: Jira's clock and the bridge's may differ,
# and the run is dated when it was recorded, after its reading.
CLOCK_SKEW = timedelta(days=1)


class ExportError(Exception):
    """The export cannot be made as asked (an unknown run): one line saying why."""


@dataclass(frozen=True)
class Layout:
    """How the rows are written: the format, one row per ticket or per worklog, and the CSV
    delimiter."""

    fmt: str = "csv"
    granularity: str = "ticket"
    delimiter: str = ","


def _rows(bills: Iterable[Bill], granularity: str) -> Iterator[Row]:
    for found in bills:
        yield from rows_of(found, granularity)


def _pulled(bills: AsyncIterator[Bill], loop: asyncio.AbstractEventLoop) -> Iterator[Bill]:
    """An async stream as a blocking one, for a writer running in a thread: each item is
    awaited on `loop`, and its failure raised in the thread."""
    while True:
        try:
            yield asyncio.run_coroutine_threadsafe(bills.__anext__(), loop).result()  # type: ignore[arg-type]
        except StopAsyncIteration:
            return


class Billing:
    """Exports for one tracker, by the workflows in force."""

    def __init__(
        self,
        tracker: Tracker,
        ledger: Ledger,
        workflows: Callable[[], WorkflowSet],
        *,
        progress: Callable[[int], None] = lambda seen: None,
        warn: Callable[[str], None] = log.warning,
    ) -> None:
        self.tracker = tracker
        self.ledger = ledger
        self._workflows = workflows
        self.progress = progress
        self.warn = warn

    # -- reading: the tracker, the pure selection, the ledger ----------------------------
    async def bills(self, period: Period, *, final: bool = False) -> AsyncIterator[Bill]:
        """Every bill of `period` that no final run has billed yet. A workflow whose search
        Jira refuses (a status the site does not have) is passed over with a warning in a
        preview, and fails a final run: billing it without them would bill their tickets
        in a later period."""
        since = period.starts
        last = await asyncio.to_thread(self.ledger.last_run_at, self.tracker.name)
        if last is not None:
            since = min(since, last - CLOCK_SKEW)
        bridge = await self.tracker.identity()
        billed_periods = [run.period for run in await asyncio.to_thread(self.ledger.runs, self.tracker.name)]
        seen = 0
        for workflow in self._workflows():
            if workflow.billing is None:
                continue
            page: list[WorkedTicket] = []
            found_any = False
            try:
                async for worked in self.tracker.worked(self._search(workflow, since)):
                    found_any = True
                    seen += 1
                    self.progress(seen)
                    if workflow.governs(worked.project, worked.issue_type, worked.request_type):
                        page.append(worked)
                    if len(page) >= PAGE:
                        for found in await self._billed(page, workflow, period, bridge, billed_periods):
                            yield found
                        page = []
            except NotOnSite:
                continue  # a workflow of another site's types: nothing of it to bill here
            except TrackerRejected as exc:
                if final or found_any or exc.status != 400:
                    raise
                # Jira refuses a search naming a status or project the site does not have:
                # no ticket of this workflow can be there to bill
                self.warn(f"passed over workflow {workflow.name}: {exc}")
            for found in await self._billed(page, workflow, period, bridge, billed_periods):
                yield found

    @staticmethod
    def _search(workflow: Workflow, since: datetime) -> Search:
        assert workflow.billing is not None
        applies = workflow.applies_to
        return Search(
            statuses=[workflow.statuses[sid] for sid in workflow.billing.billable],
            # a request type may sit on any issue type: then the workflow filters
            issue_types=() if applies.request_types else applies.issue_types,
            request_types=applies.only_request_types(),
            projects=applies.projects,
            updated_since=since.astimezone(UTC),
            with_history=True,
        )

    async def _billed(
        self,
        page: list[WorkedTicket],
        workflow: Workflow,
        period: Period,
        bridge: frozenset[str],
        billed_periods: list[Period],
    ) -> list[Bill]:
        if not page:
            return []
        billed = await asyncio.to_thread(self._billed_so_far, page)
        bills = []
        for worked in page:
            done = first_billable(worked, workflow)
            if done is None:
                continue
            moved = approver(worked, workflow, done)
            role = Role.UNKNOWN
            if moved is not None and moved.actor.id not in bridge:
                role = await self.tracker.role_of(moved.actor, worked.project)
            passed_over = any(earlier.holds(done.at) for earlier in billed_periods)
            found = bill(
                worked, workflow, period, billed.get(worked.key), approval(moved, bridge, role),
                passed_over=passed_over,
            )
            if found is not None:
                bills.append(found)
        return bills

    def _billed_so_far(self, page: list[WorkedTicket]) -> dict[str, dict[str, int]]:
        """Per ticket of `page` billed before, per worklog: the seconds billed on it. A
        worklog counts as billed whichever ticket it was billed on, so that a ticket moved
        to another key (keeping its worklogs) is not billed again under the new one."""
        name = self.tracker.name
        by_ticket = self.ledger.billed(name, [t.key for t in page])
        by_worklog = self.ledger.billed_worklogs(name, [w.id for t in page for w in t.worklogs])
        found = {}
        for worked in page:
            known = {w.id: by_worklog[w.id] for w in worked.worklogs if w.id in by_worklog}
            own = by_ticket.get(worked.key)
            if own is not None or known:
                found[worked.key] = {**(own or {}), **known}
        return found

    # -- writing ----------------------------------------------------------------------
    def _header(self, period: Period, layout: Layout, run: BillingRun | None, by: str | None) -> ExportHeader:
        return ExportHeader(
            period=period,
            tracker=self.tracker.name if run is None else run.tracker,
            granularity=layout.granularity,
            run=None if run is None else run.id,
            created_at=datetime.now(UTC) if run is None else run.created_at,
            requested_by=by if run is None else run.requested_by,
        )

    async def preview(self, period: Period, layout: Layout, out: BinaryIO, requested_by: str | None = None) -> Totals:
        """The period's bills as they stand, written to `out`; the ledger is not touched."""
        bills = self.bills(period)
        loop = asyncio.get_running_loop()
        header = self._header(period, layout, None, requested_by)
        try:
            return await asyncio.to_thread(
                write_export, layout.fmt, header, _rows(_pulled(bills, loop), layout.granularity),
                out, delimiter=layout.delimiter,
            )
        finally:
            await bills.aclose()

    async def final(self, period: Period, layout: Layout, out: BinaryIO, requested_by: str) -> tuple[BillingRun, Totals]:
        """Bill the period: record the run in the ledger, then write it to `out`."""
        run = await self.record(period, requested_by)
        return run, await self.again(run.id, layout, out)

    async def record(self, period: Period, requested_by: str) -> BillingRun:
        """Record a final run of `period`; nothing is recorded if reading fails."""
        bills = self.bills(period, final=True)
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.to_thread(
                self.ledger.record, self.tracker.name, period, requested_by, _pulled(bills, loop)
            )
        finally:
            await bills.aclose()

    async def again(self, run_id: int, layout: Layout, out: BinaryIO) -> Totals:
        """A final run written again from the ledger, as it was recorded."""
        return await asyncio.to_thread(write_run, self.ledger, run_id, layout, out)


def write_run(ledger: Ledger, run_id: int, layout: Layout, out: BinaryIO) -> Totals:
    """Write final run `run_id` from the ledger alone (no tracker needed)."""
    run = ledger.run(run_id)
    if run is None:
        raise ExportError(f"no final billing run {run_id}: `bridge billing runs` lists them")
    header = ExportHeader(
        period=run.period,
        tracker=run.tracker,
        granularity=layout.granularity,
        run=run.id,
        created_at=run.created_at,
        requested_by=run.requested_by,
    )
    rows = _rows(ledger.bills(run.id), layout.granularity)
    return write_export(layout.fmt, header, rows, out, delimiter=layout.delimiter)


def describe(run: BillingRun) -> dict[str, Any]:
    """A run as the API and `bridge billing runs --json` show it."""
    return {
        "id": run.id,
        "tracker": run.tracker,
        "from": run.period.first.isoformat(),
        "to": run.period.last.isoformat(),
        "time_zone": run.period.zone.key,
        "requested_by": run.requested_by,
        "created_at": run.created_at.isoformat(),
        "tickets": run.tickets,
        "seconds": run.seconds,
        "hours": str(hours(run.seconds)),
    }

"""One round of each periodic job, as the scheduler of `bridge serve` and `bridge sweep` run
it: under the job's lock, with the workflows in force and the time now; what it queues, the
worker is woken to take up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from bridge.jobs.devitems import Development
from bridge.jobs.reconcile import OVERLAP, Reconciled, sweep_reconcile
from bridge.jobs.runner import run_exclusive
from bridge.jobs.timers import Sweep, sweep_timers
from bridge.store import JobRecords
from bridge.trackers.base import Tracker, TrackerError
from bridge.workflows.loader import WorkflowSet

log = logging.getLogger(__name__)


@dataclass
class Jobs:
    """What the periodic jobs work with."""

    engine: Engine
    tracker: Tracker
    workflows: Callable[[], WorkflowSet]
    zone: str
    lookback: timedelta
    wake: Callable[[], None] = lambda: None
    development: Development | None = None  # linked items are polled with each reconcile
    overlap: timedelta = OVERLAP  # how far each reconcile reads back before its cursor

    def _lock(self, job: str) -> str:
        """One process at a time runs a job on a site; other sites' rounds go on."""
        return f"{job}:{self.tracker.name}"

    @property
    def records(self) -> JobRecords:
        return JobRecords(self.engine)

    async def timers(self, *, dry_run: bool = False, progress: Callable[[int], None] = lambda n: None) -> Sweep | None:
        async def work() -> Sweep:
            return await sweep_timers(
                self.tracker, self.records, self.workflows(), self.zone, datetime.now(UTC),
                dry_run=dry_run, progress=progress,
            )

        sweep = await run_exclusive(self.engine, self._lock("timers"), work)
        if sweep is not None and sweep.queued and not dry_run:
            log.info("timers: %d of %d tickets due, queued", len(sweep.queued), sweep.seen)
            self.wake()
        return sweep

    async def reconcile(self, *, dry_run: bool = False, progress: Callable[[int], None] = lambda n: None) -> Reconciled | None:
        async def work() -> Reconciled:
            found = await sweep_reconcile(
                self.tracker, self.records, self.workflows(), datetime.now(UTC), self.lookback,
                dry_run=dry_run, progress=progress, overlap=self.overlap,
            )
            if self.development is not None and not dry_run:
                found.polled = await self.development.poll()
            return found

        found = await run_exclusive(self.engine, self._lock("reconcile"), work)
        if found is not None and found.queued:
            log.warning("reconcile of %s: %d status changes no delivery brought, queued", self.tracker.name, found.queued)
        if found is not None and (found.queued or (found.polled and found.polled.queued)):
            self.wake()
        return found

    async def scheduled(self, name: str) -> None:
        """A scheduler's round: a failure is logged, and the next round covers what it missed.
        A tracker not answering as it should is one line (a poll a minute through an outage
        must not fill the log; the tracker's health says why); anything else, a bug, keeps
        its traceback."""
        try:
            await (self.timers() if name == "timers" else self.reconcile())
        except TrackerError as exc:
            log.warning("%s of %s failed; the next round covers it: %s", name, self.tracker.name, exc)
        except Exception:
            log.exception("%s of %s failed; the next round covers it", name, self.tracker.name)

"""The timer sweep: tickets whose time in a status has run out, or whose reminder is due.

A search only narrows the candidates (the statuses that have timers, page by page); when a
ticket entered its status comes from its history, and the engine decides. Each step that is
due is queued as a delivery of its own (see `bridge.jobs.deliveries`), so the worker acts on
it as on a webhook, after reading the ticket again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bridge.engine import Decision, Found
from bridge.engine.timers import Due, Stay, decide_timer, due, entered, step_of
from bridge.jobs.deliveries import timer_work
from bridge.store import JobRecords
from bridge.trackers.base import NotOnSite, Search, Tracker, TrackerRejected
from bridge.workflows.loader import WorkflowSet
from bridge.workflows.model import Workflow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Running:
    """A ticket with a running timer, and what the engine says about it now."""

    found: Found
    workflow: Workflow
    due: Due
    decision: Decision

    @property
    def step(self) -> str | None:
        return step_of(self.decision)

    def describe(self, zone: ZoneInfo) -> str:
        """One line: the ticket, its stay, its deadline and what is due."""
        shown = "%d.%m.%Y %H:%M"
        timer, due_ = self.due.timer, self.due
        line = (
            f"{self.found.ticket.key}  {due_.status} since {due_.entered.astimezone(zone):{shown}}"
            f"  {timer.after} → {due_.deadline.astimezone(zone):{shown}}"
        )
        path = " → ".join(self.workflow.statuses[s] for s in timer.path) or "comment only"
        line += f"  then {path}  ({self.workflow.name})"
        upcoming = [r for r in due_.reminders if r > datetime.now(zone)]
        if upcoming:
            line += f"  reminder {min(upcoming).astimezone(zone):{shown}}"
        return line + (f"  DUE: {self.step}" if self.step else "")


@dataclass
class Sweep:
    """What a sweep saw and did."""

    seen: int = 0
    refused: list[str] = field(default_factory=list)  # workflows whose search was refused
    queued: list[Running] = field(default_factory=list)  # due and queued now
    already: list[Running] = field(default_factory=list)  # due, queued by an earlier sweep


async def running_timers(
    tracker: Tracker,
    workflows: WorkflowSet,
    zone: str,
    now: datetime,
    refused: Callable[[str, TrackerRejected], None] = lambda workflow, exc: None,
) -> AsyncIterator[Running]:
    """Every ticket in a status with a timer, with its deadline and what is due now. A
    workflow whose search the tracker refuses (a status this site does not have) is passed
    over and reported to `refused`; the others go on."""
    for workflow in workflows:
        if not workflow.timers:
            continue
        try:
            async for running in _running(tracker, workflow, zone, now):
                yield running
        except NotOnSite:  # a workflow of another site's types: no timer of it runs here
            log.debug("timers of workflow %s: none of its types on %s", workflow.name, tracker.name)
        except TrackerRejected as exc:
            log.warning("timers of workflow %s: the search was refused: %s", workflow.name, exc)
            refused(workflow.name, exc)


async def _running(tracker: Tracker, workflow: Workflow, zone: str, now: datetime) -> AsyncIterator[Running]:
    calendar = workflow.calendar.build(zone)
    found_tickets = tracker.search(
        Search(
            statuses=[workflow.statuses[sid] for sid in workflow.timers],
            issue_types=workflow.applies_to.issue_types,
            request_types=workflow.applies_to.only_request_types(),
            projects=workflow.applies_to.projects,
            fields=_request_type_fields(workflow),
            with_history=True,
        )
    )
    async for found in found_tickets:
        if not workflow.governs(found.project, found.issue_type, found.request_type):
            continue
        since = entered(found.history or (), found.ticket.status, None)
        if since is None:  # never moved into its status: no stay to count
            continue
        stay = Stay(found.ticket, since)
        running = due(stay, workflow, calendar)
        if running is not None:
            yield Running(found, workflow, running, decide_timer(stay, workflow, calendar, now))


def _request_type_fields(workflow: Workflow) -> list[str]:
    """Every field, where the workflow goes by request type: its field's id differs per site
    and is found by its shape."""
    return ["*all"] if workflow.applies_to.request_types else []


async def sweep_timers(
    tracker: Tracker,
    jobs: JobRecords,
    workflows: WorkflowSet,
    zone: str,
    now: datetime,
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] = lambda seen: None,
) -> Sweep:
    """Queue every step that is due; with `dry_run`, only say what would be queued."""
    sweep = Sweep()

    def refused(workflow: str, exc: TrackerRejected) -> None:
        sweep.refused.append(f"workflow {workflow}: {exc}")

    async for running in running_timers(tracker, workflows, zone, now, refused):
        sweep.seen += 1
        progress(sweep.seen)
        if running.step is None:
            continue
        if dry_run:
            sweep.queued.append(running)
            continue
        work = timer_work(running.found.ticket.key, running.workflow.name, running.due.entered, running.step)
        new = await asyncio.to_thread(jobs.enqueue, tracker.name, [work])
        (sweep.queued if new else sweep.already).append(running)
    return sweep

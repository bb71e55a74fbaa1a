"""Reconcile: status changes Jira never delivered (the bridge was down, Jira gave up
retrying, the webhook was misconfigured for a while) are found in the tickets' histories and
judged anyway.

Tickets of governed types updated since the cursor (with a little overlap) are searched with
their histories; every status change in that window that the bridge did not make itself, and
that no delivery judged yet, is queued as the webhook Jira would have sent. The worker judges
it like one; a change that also arrives as a webhook is judged once, whichever comes first
(by its changelog id). The cursor moves only when a sweep completes, so a sweep that fails
half-way is covered by the next.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bridge.engine import Found, StatusChange
from bridge.jobs.deliveries import change_key
from bridge.jobs.devitems import Polled
from bridge.store import JobRecords
from bridge.trackers.base import NotOnSite, Search, Tracker, TrackerRejected
from bridge.workflows.loader import WorkflowSet

log = logging.getLogger(__name__)
JOB = "reconcile"
OVERLAP = timedelta(minutes=5)  # a change saved just as the last sweep read is not missed


@dataclass
class Reconciled:
    since: datetime
    seen: int = 0
    missed: list[tuple[Found, StatusChange]] = field(default_factory=list)  # queued now
    queued: int = 0
    refused: list[str] = field(default_factory=list)  # workflows whose search was refused
    polled: Polled | None = None  # development items read, and their tickets queued


async def sweep_reconcile(
    tracker: Tracker,
    jobs: JobRecords,
    workflows: WorkflowSet,
    now: datetime,
    lookback: timedelta,
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] = lambda seen: None,
    overlap: timedelta = OVERLAP,
) -> Reconciled:
    """`overlap`: how far before the cursor the search reaches (Jira's index lags behind
    its changes; Redmine's `updated_on` has one-second resolution and no lag)."""
    cursor = await asyncio.to_thread(jobs.cursor, JOB, tracker.name)
    since = (cursor or now - lookback) - overlap
    result = Reconciled(since)
    own = await tracker.identity()
    for workflow in workflows:
        found_tickets = tracker.search(
            Search(
                issue_types=workflow.applies_to.issue_types,
                request_types=workflow.applies_to.only_request_types(),
                projects=workflow.applies_to.projects,
                updated_since=since,
                fields=["*all"] if workflow.applies_to.request_types else [],
                with_history=True,
            )
        )
        try:
            async for found in found_tickets:
                result.seen += 1
                progress(result.seen)
                if workflow.governs(found.project, found.issue_type, found.request_type):
                    result.missed += await _unjudged(tracker, jobs, found, since, own)
        except NotOnSite:  # a workflow of another site's types: nothing of it here
            log.debug("reconcile of workflow %s: none of its types on %s", workflow.name, tracker.name)
        except TrackerRejected as exc:  # a type or project this site does not have
            log.warning("reconcile of workflow %s: the search was refused: %s", workflow.name, exc)
            result.refused.append(f"workflow {workflow.name}: {exc}")
    if not dry_run:
        work = [
            (f"reconcile:{found.ticket.key}:{change.id}", tracker.delivery_of(found, change))
            for found, change in result.missed
        ]
        result.queued = len(await asyncio.to_thread(jobs.enqueue, tracker.name, work))
        await asyncio.to_thread(jobs.move_cursor, JOB, tracker.name, now)
    return result


async def _unjudged(
    tracker: Tracker, jobs: JobRecords, found: Found, since: datetime, own: frozenset[str]
) -> list[tuple[Found, StatusChange]]:
    changes = [
        c for c in found.history or ()
        if c.at >= since and (c.actor.id is None or c.actor.id not in own)
    ]
    if not changes:
        return []
    keys = {change_key(found.ticket.key, c.id): c for c in changes}
    judged = await asyncio.to_thread(jobs.judged, tracker.name, keys)
    return [(found, c) for key, c in keys.items() if key not in judged]

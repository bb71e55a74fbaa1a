"""The worker: claims deliveries from the inbox, judges them, acts, records.

Deliveries of one ticket are handled one at a time and in arrival order; different tickets
are handled concurrently. Decisions that take no action (most deliveries) are written in
one transaction per batch.

A tracker outage is normal weather: a delivery the tracker could not serve waits
(`retrying`) and is tried again, at growing intervals, until `RetryLater.horizon` has
passed; the later deliveries of its ticket wait behind it, so the ticket's events keep their
order while other tickets go on. Only what retrying cannot fix — the tracker refusing a
call, a bug — is dead-lettered at once.

A delivery whose verdict waits for a comment that may still come (a required reason given
apart from the status change) waits the same way, until the comment window closes: it is
judged again then, and its ticket's later deliveries keep their place behind it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bridge.engine import COMMENT_WINDOW, Chain, Decision, Event, Kind, Role, Rule, Verdict, decide
from bridge.engine.replies import trimmed
from bridge.executor import Applied, Executor, record_of
from bridge.finishing import Finisher
from bridge.judging import Development, Judge
from bridge.jobs.deliveries import change_key, parse_job
from bridge.store import DEAD, DONE, RETRYING, Claimed, Finished, Held, JobRecords, Store
from bridge.trackers.base import (
    MalformedDelivery,
    Tracker,
    TrackerError,
    TrackerUnauthorized,
    TrackerUnavailable,
)
from bridge.trackers.health import TrackerHealth
from bridge.trackers.http import counting_attempts
from bridge.workflows.loader import WorkflowSet

log = logging.getLogger(__name__)

SETTLED = frozenset({Verdict.IGNORED, Verdict.ALLOWED})


@dataclass(frozen=True)
class RetryLater:
    """How long a delivery waits for an unavailable tracker. The wait between tries is as
    long as the outage has lasted so far, between `first` and `longest`, so a short blip
    costs seconds and a long outage is not hammered; after `horizon` the delivery is
    dead-lettered."""

    horizon: timedelta = timedelta(hours=1)
    first: timedelta = timedelta(seconds=5)
    longest: timedelta = timedelta(seconds=60)

    def next_try(self, since: datetime, now: datetime) -> datetime | None:
        """When to try again a delivery failing since `since`; None once it is too late."""
        failing = now - since
        if failing >= self.horizon:
            return None
        return now + min(max(failing, self.first), self.longest)


@dataclass(frozen=True)
class SiteWork:
    """What the worker uses for the deliveries of one site: its tracker, the executor that
    acts on it, the judge and the workflows that apply to it."""

    tracker: Tracker
    executor: Executor
    judging: Judge
    workflows: Callable[[], WorkflowSet]
    health: TrackerHealth | None = None


class Worker:
    def __init__(
        self,
        store: Store,
        tracker: Tracker,
        executor: Executor,
        workflows: Callable[[], WorkflowSet],
        *,
        concurrency: int = 16,
        batch_size: int = 200,
        idle_seconds: float = 1.0,
        gather_seconds: float = 0.02,
        intake_rate: Callable[[], float] = lambda: 0.0,
        yield_above: float = 1500.0,
        yield_at_most_seconds: float = 2.0,
        retry_later: RetryLater | None = None,
        health: TrackerHealth | None = None,
        comment_window: timedelta = COMMENT_WINDOW,
        timezone: str = "Europe/Prague",
        development: Development | None = None,
        parsers: Mapping[str, Callable[[bytes], Event]] | None = None,
        sites: Mapping[str, tuple[Tracker, Executor, Callable[[], WorkflowSet], TrackerHealth | None]]
        | None = None,
    ) -> None:
        """`tracker`, `executor` and `workflows` serve the first site; `sites`, any others,
        by name: a delivery is judged and acted on through the site it was received for.
        `parsers`: how deliveries that did not come from a site (a development provider's
        hooks) are read, by the name they were received under; the first site judges them."""
        self.store = store

        def work(
            tracker: Tracker, executor: Executor, workflows: Callable[[], WorkflowSet], health: TrackerHealth | None
        ) -> SiteWork:
            judging = Judge(
                store, tracker, workflows, comment_window=comment_window, timezone=timezone,
                development=development,
            )
            return SiteWork(tracker, executor, judging, workflows, health)

        self.first = work(tracker, executor, workflows, health)
        self.sites: dict[str, SiteWork] = {tracker.name: self.first}
        for name, parts in (sites or {}).items():
            self.sites[name] = work(*parts)
        self.parsers = dict(parsers or {})
        self.jobs = JobRecords(store.engine)
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.gather_seconds = gather_seconds
        self._intake_rate = intake_rate
        self._yield_above = yield_above
        self._yield_at_most = yield_at_most_seconds
        self.retry_later = retry_later or RetryLater()
        self.health = health
        self._slots = asyncio.Semaphore(concurrency)
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._max_inflight = concurrency * 8
        self._inflight: set[asyncio.Task[Finished]] = set()
        self._room = asyncio.Event()  # set when fewer than _max_inflight tasks run
        self._tails: dict[str, asyncio.Task[Finished]] = {}  # the last task of each ticket
        # deliveries handled apart end in groups, one transaction for those ending together
        self._finisher = Finisher(lambda results: self.store.finish_many(results))
        self._unrecorded: set[int] = set()  # claims whose end could not be recorded

    # the first site's parts, as a worker of one site has them
    @property
    def tracker(self) -> Tracker:
        return self.first.tracker

    @property
    def executor(self) -> Executor:
        return self.first.executor

    @property
    def judging(self) -> Judge:
        return self.first.judging

    def site(self, name: str) -> SiteWork:
        """The site a delivery (or an event) was received for; a development provider's
        deliveries, and names no site has, go to the first."""
        return self.sites.get(name, self.first)

    def _parse(self, item: Claimed) -> Event:
        parse = self.parsers.get(item.tracker)
        return parse(item.body) if parse is not None else self.site(item.tracker).tracker.parse(item.body)

    # -- running -----------------------------------------------------------------------------
    def wake(self) -> None:
        """Tell the worker new deliveries are committed; safe from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wakeup.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        yielded = 0.0
        while not self._stopping:
            if self._intake_rate() > self._yield_above and yielded < self._yield_at_most:
                # A burst is arriving: acknowledging it comes first (Jira waits on every
                # answer); the inbox holds the rest, taken up once the burst eases, or
                # after `yield_at_most_seconds` at the latest.
                await asyncio.sleep(0.05)
                yielded += 0.05
                continue
            yielded = 0.0
            if all(site.health is not None and site.health.blocking for site in self.sites.values()):
                # the trackers refuse the bridge: deliveries wait in the inbox until it is
                # fixed (with several sites, a site refusing it has its deliveries retried)
                await asyncio.sleep(self.idle_seconds)
                continue
            if len(self._inflight) >= self._max_inflight:
                self._room.clear()
                await self._room.wait()
                continue
            try:
                handled = await self.run_once(wait=False)
            except Exception:
                log.exception("worker pass failed; retrying shortly")
                handled = 0
            if handled < self.batch_size:
                # Let deliveries gather: under load one claim then takes many, so the worker's
                # commits do not compete with every group commit of the intake.
                await asyncio.sleep(self.gather_seconds)
            if handled == 0:
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self.idle_seconds)
                except TimeoutError:
                    pass
        await self.drain()

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def drain(self) -> None:
        """Wait until every delivery handed to a task is finished."""
        while self._inflight:
            await asyncio.wait(set(self._inflight))

    async def run_once(self, *, wait: bool = True) -> int:
        """Claim one batch; the number of deliveries claimed.

        Deliveries the core settles without the tracker are recorded together, in one
        transaction. The others run as tasks, one at a time per ticket and in arrival order,
        so a slow tracker call never holds up the rest of the inbox. A delivery that cannot
        be parsed or settled is dead-lettered alone, with the reason; the batch goes on.
        """
        if self._unrecorded:  # claims whose end the database did not take: now it answers again
            await asyncio.to_thread(self.store.release_claims, sorted(self._unrecorded))
            self._unrecorded.clear()
        claimed = await asyncio.to_thread(self.store.claim, self.batch_size)
        if not claimed:
            return 0
        spawned: set[int] = set()
        try:
            return await self._run_claimed(claimed, spawned, wait)
        except Exception:
            self._unrecorded.update(item.id for item in claimed if item.id not in spawned)
            raise

    async def _run_claimed(self, claimed: list[Claimed], spawned: set[int], wait: bool) -> int:
        settled: list[Finished] = []
        parsed: list[tuple[Claimed, Event]] = []
        for item in claimed:
            try:
                parsed.append((item, parse_job(item.body, item.tracker) or self._parse(item)))
            except MalformedDelivery as exc:
                log.warning("delivery %s dead-lettered: malformed: %s", item.id, exc)
                settled.append(Finished(item.id, DEAD, error=f"malformed delivery: {exc}"))
            except Exception as exc:  # a bug must not stop the worker nor hold up the batch
                log.exception("delivery %s failed", item.id)
                settled.append(Finished(item.id, DEAD, error=f"internal error: {type(exc).__name__}: {exc}"))
        known, chained = self._first_of_their_ticket(parsed)
        held, judged, chains = await asyncio.to_thread(
            self._before_judging, list(known.values()), list(chained.values())
        )
        batch: set[tuple[str, str]] = set()  # status changes judged in this batch
        for item, event in parsed:
            mark = known.get(item.id)
            judged_now = None if mark is None else {mark: judged.get(mark)}
            chain = chains.get(chained[item.id]) if item.id in chained else None
            try:
                waiting = held.get((item.tracker, event.ticket))
                if waiting is not None and waiting.delivery_id < item.id:
                    result = _behind(item, event.ticket, waiting.delivery_id, waiting.retry_at)
                else:
                    result = await self._settle(item, event, batch, judged_now)
            except Exception as exc:  # a bug must not stop the worker nor hold up the batch
                log.exception("delivery %s failed", item.id)
                settled.append(Finished(item.id, DEAD, error=f"internal error: {type(exc).__name__}: {exc}"))
                continue
            if result is None:
                self._spawn(item, event, judged_now, chain)
                spawned.add(item.id)
            else:
                settled.append(result)
        await asyncio.to_thread(self.store.finish_many, settled)
        if wait:
            await self.drain()
        return len(claimed)

    def _first_of_their_ticket(
        self, parsed: list[tuple[Claimed, Event]]
    ) -> tuple[dict[int, tuple[str, str]], dict[int, tuple[str, str]]]:
        """For the deliveries whose ticket has no earlier delivery under way: the status
        change each would mark, and the (site, ticket) of each customer's status change,
        whose judging reads the customer's earlier moves. Both can be read for the whole
        claim at once: nothing in this process records them before these are judged."""
        busy = set(self._tails)
        known: dict[int, tuple[str, str]] = {}
        chained: dict[int, tuple[str, str]] = {}
        for item, event in parsed:
            tail = _tail_key(item, event)
            if tail in busy:
                continue
            busy.add(tail)
            if _marked(event):
                known[item.id] = (item.tracker, change_key(event.ticket, event.change_id or ""))
            customer = event.actor.role in (Role.CUSTOMER, Role.UNKNOWN)
            if event.kind is Kind.STATUS_CHANGED and customer and event.ticket is not None:
                chained[item.id] = (event.tracker, event.ticket)
        return known, chained

    def _before_judging(
        self, marks: list[tuple[str, str]], chained: list[tuple[str, str]]
    ) -> tuple[dict[tuple[str, str], Held], dict[tuple[str, str], int], dict[tuple[str, str], Chain]]:
        """The tickets held behind a delivery that waits, which of `marks` were judged
        already and the customers' chains on the `chained` tickets: what a claim needs
        before it is judged, in one hop to a thread."""
        by_tracker: dict[str, list[str]] = {}
        for tracker, ticket in chained:
            by_tracker.setdefault(tracker, []).append(ticket)
        chains = {
            (tracker, ticket): Chain(*found)
            for tracker, tickets in by_tracker.items()
            for ticket, found in self.store.customer_chains(tracker, tickets).items()
        }
        return self.store.held_tickets(), self.jobs.judged_among(marks), chains

    async def _settle(
        self,
        item: Claimed,
        event: Event,
        batch: set[tuple[str, str]],
        judged: Mapping[tuple[str, str], int | None] | None = None,
    ) -> Finished | None:
        """The result of a delivery that needs no tracker call beyond the bridge's (cached)
        identity, or None when it must take the slow path."""
        if item.claims > 1 or _tail_key(item, event) in self._tails or event.kind in (Kind.TIMER, Kind.DEV_ITEM):
            return None
        site = self.site(item.tracker)
        if decide(event, site.judging.workflow_of(event)).verdict not in SETTLED:
            return None
        if trimmed(event, site.workflows()):  # completed from the tracker before it is judged
            return None
        before, mark = await self._judged_elsewhere(item, event, batch, judged)
        if before is not None:
            return before
        try:
            with counting_attempts() as attempts:
                event, decision = await site.judging.judge(event)
        except Exception:
            return None
        if decision.actions or decision.verdict not in SETTLED:
            return None
        record = record_of(event, decision, site.executor.dry_run)
        return Finished(item.id, DONE, record, attempts=attempts[0], change=mark)

    def _spawn(
        self,
        item: Claimed,
        event: Event,
        judged: Mapping[tuple[str, str], int | None] | None = None,
        chain: Chain | None = None,
    ) -> None:
        ticket = _tail_key(item, event)
        task = asyncio.create_task(self._handle_after(self._tails.get(ticket), item, event, judged, chain))
        self._tails[ticket] = task
        self._inflight.add(task)

        def done(t: asyncio.Task[Finished]) -> None:
            self._inflight.discard(t)
            if self._tails.get(ticket) is t:
                del self._tails[ticket]
            if len(self._inflight) < self._max_inflight:
                self._room.set()

        task.add_done_callback(done)

    async def _handle_after(
        self,
        previous: asyncio.Task[Finished] | None,
        item: Claimed,
        event: Event,
        judged: Mapping[tuple[str, str], int | None] | None = None,
        chain: Chain | None = None,
    ) -> Finished:
        before = None
        if previous is not None:
            await asyncio.wait([previous])
            if not previous.cancelled() and previous.exception() is None:
                before = previous.result()
        if before is not None and before.state == RETRYING:  # the ticket waits: so does this
            assert before.retry_at is not None
            result = _behind(item, event.ticket, before.delivery_id, before.retry_at)
        else:
            async with self._slots:
                result = await self.handle(item, event, judged, chain)
        try:
            await self._finisher.finish(result)
        except Exception:  # given back once the database answers again (else its lease lapses)
            log.exception("could not record the end of delivery %s", item.id)
            self._unrecorded.add(item.id)
        return result

    # -- one delivery --------------------------------------------------------------------------
    async def handle(
        self,
        item: Claimed,
        event: Event,
        judged: Mapping[tuple[str, str], int | None] | None = None,
        chain: Chain | None = None,
    ) -> Finished:
        """Judge and act on one delivery (or finish what an earlier attempt began); the
        result counts the calls it made to the tracker. `judged` (whether its status change
        was judged already) and `chain` (the customer's earlier moves on its ticket): where
        they were read with its claim."""
        with counting_attempts() as attempts:
            try:
                before, mark = await self._judged_elsewhere(item, event, judged=judged)
            except Exception:  # not knowing must not stop the judging
                log.exception("delivery %s: could not look whether its change was judged", item.id)
                before, mark = None, None
            result = before or await self._handle(item, event, chain)
        return replace(result, attempts=attempts[0], change=mark if result.state == DONE else None)

    async def _handle(self, item: Claimed, event: Event, chain: Chain | None = None) -> Finished:
        key = f"{item.tracker}:{item.delivery_key}"
        site = self.site(item.tracker)
        try:
            if item.claims > 1:
                resumed = await asyncio.to_thread(self.store.unfinished_actions, item.id)
                if resumed is not None:  # decided before: finish what that decision began
                    applied = await site.executor.apply(resumed, resumed=True)
                    return self._ended(item, event, applied)
            event, decision = await site.judging.judge(event, chain=chain)
            if decision.verdict is Verdict.WAITING:
                return _waiting(item, event, decision)
            if not decision.actions:
                return Finished(item.id, DONE, record_of(event, decision, site.executor.dry_run))
            applied = await site.executor.execute(item.id, key, event, decision)
            return self._ended(item, event, applied)
        except TrackerUnavailable as exc:
            return self._retry_later(item, event, str(exc))
        except TrackerUnauthorized as exc:  # hold everything until the credentials work
            if site.health is not None:
                await site.health.check()
            return self._retry_later(item, event, str(exc))
        except TrackerError as exc:
            log.warning("delivery %s dead-lettered: %s", item.id, exc)
            return Finished(item.id, DEAD, error=str(exc))
        except Exception as exc:  # a bug must not stop the worker nor lose the delivery
            log.exception("delivery %s failed", item.id)
            return Finished(item.id, DEAD, error=f"internal error: {type(exc).__name__}: {exc}")

    async def _judged_elsewhere(
        self,
        item: Claimed,
        event: Event,
        batch: set[tuple[str, str]] | None = None,
        judged: Mapping[tuple[str, str], int | None] | None = None,
    ) -> tuple[Finished | None, tuple[str, str] | None]:
        """A change that another delivery brought first (a webhook and reconcile both found
        it; Jira sent it twice) is recorded, not judged again: (that record, None). Otherwise
        (None, the mark this delivery records as it ends). Status changes and added
        attachments are marked: judging either again would act twice. The bridge's own changes need no mark: reconcile
        passes them by."""
        if not _marked(event):
            return None, None
        site = self.site(item.tracker)
        if event.actor.role is not Role.CUSTOMER and await site.tracker.own_change(event.actor):
            return None, None
        mark = (item.tracker, change_key(event.ticket, event.change_id))
        owner = None if batch is None or mark not in batch else -1
        if owner is None:
            if judged is not None and mark in judged:
                owner = judged[mark]
            else:
                owner = await asyncio.to_thread(self.jobs.judged_by, *mark)
        if owner is None or owner == item.id:
            if batch is not None:
                batch.add(mark)
            return None, mark
        decision = Decision(
            Verdict.IGNORED, Rule.JUDGED_BEFORE, f"change {event.change_id} was judged with another delivery"
        )
        return Finished(item.id, DONE, record_of(event, decision, site.executor.dry_run)), None

    def _ended(self, item: Claimed, event: Event, applied: Applied) -> Finished:
        if applied.error is None:
            return Finished(item.id, DONE, outcomes=applied.outcomes)
        if applied.retryable:
            return self._retry_later(item, event, applied.error)
        return Finished(item.id, DEAD, error=applied.error)

    def _retry_later(self, item: Claimed, event: Event, error: str) -> Finished:
        """Wait for the tracker to come back, or give up once the horizon has passed."""
        now = datetime.now(UTC)
        since = item.retrying_since or now
        at = self.retry_later.next_try(since, now)
        if at is None:
            failing = int((now - since).total_seconds())
            log.warning("delivery %s dead-lettered after %d s of failures: %s", item.id, failing, error)
            return Finished(
                item.id, DEAD, error=f"tracker unavailable for {failing} s; gave up: {error}"
            )
        log.warning("delivery %s waits for the tracker until %s: %s", item.id, f"{at:%H:%M:%S}", error)
        return Finished(item.id, RETRYING, None, error, at, event.ticket, since)


def _marked(event: Event) -> bool:
    """Whether judging the event marks its change judged (see `Worker._judged_elsewhere`)."""
    return event.change_id is not None and (event.kind is Kind.STATUS_CHANGED or bool(event.attached))


def _tail_key(item: Claimed, event: Event) -> str:
    """Whose turn a delivery waits for: its ticket's, on its site (by id where the key is
    not known yet)."""
    return f"{item.tracker}:{event.ticket or '#' + str(event.ticket_id)}"


def _behind(item: Claimed, ticket: str, first: int, retry_at: datetime) -> Finished:
    """A delivery that waits because an earlier one of its ticket waits for the tracker."""
    return Finished(
        item.id,
        RETRYING,
        None,
        f"waits behind delivery {first} of {ticket}",
        retry_at,
        ticket,
        item.retrying_since,
    )


def _waiting(item: Claimed, event: Event, decision: Decision) -> Finished:
    """A delivery whose verdict waits for a comment: judged again once the window closes."""
    assert decision.wait_until is not None
    log.info("delivery %s waits: %s", item.id, decision.reason)
    return Finished(
        item.id,
        RETRYING,
        None,
        decision.reason,
        decision.wait_until,
        event.ticket,
        item.retrying_since,
    )

"""The worker: claims deliveries from the inbox, judges them, acts, records.

Deliveries of one ticket are handled one at a time and in arrival order; different tickets
are handled concurrently. Decisions that take no action (most deliveries) are written in
one transaction per batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace

from bridge.engine import Actor, Decision, Event, Need, Role, Verdict, decide
from bridge.executor import Executor, record_of
from bridge.store import DEAD, DONE, Claimed, DecisionRecord, Store
from bridge.trackers.base import MalformedDelivery, Tracker, TrackerError
from bridge.workflows.loader import WorkflowSet
from bridge.workflows.model import Workflow

log = logging.getLogger(__name__)

Result = tuple[int, DecisionRecord | None, str, str | None]
MAX_ROUNDS = 3
UNJUDGED = frozenset({"no-workflow", "no-rule", "unknown-status"})


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
    ) -> None:
        self.store = store
        self.tracker = tracker
        self.executor = executor
        self.workflows = workflows
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    # -- running -----------------------------------------------------------------------------
    def wake(self) -> None:
        """Tell the worker new deliveries are committed; safe from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wakeup.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("worker pass failed; retrying shortly")
                handled = 0
            if handled == 0:
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self.idle_seconds)
                except TimeoutError:
                    pass

    def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def run_once(self) -> int:
        """Claim one batch and handle it; the number of deliveries handled."""
        claimed = await asyncio.to_thread(self.store.claim, self.batch_size)
        if not claimed:
            return 0
        by_ticket: dict[str, list[tuple[Claimed, Event | str]]] = {}
        results: list[Result] = []
        for item in claimed:
            try:
                parsed: Event | str = self.tracker.parse(item.body)
                group = parsed.ticket
            except MalformedDelivery as exc:
                parsed, group = f"malformed delivery: {exc}", f"#{item.id}"
            by_ticket.setdefault(group, []).append((item, parsed))

        async def handle_in_order(items: list[tuple[Claimed, Event | str]]) -> None:
            async with self._slots:
                for item, parsed in items:
                    results.append(await self.handle(item, parsed))

        await asyncio.gather(*(handle_in_order(items) for items in by_ticket.values()))
        await asyncio.to_thread(self.store.finish_many, results)
        return len(claimed)

    # -- one delivery --------------------------------------------------------------------------
    async def handle(self, item: Claimed, event: Event | str) -> Result:
        """Judge and act on one delivery; `event` is its parsed form or why it did not parse."""
        key = f"{item.tracker}:{item.delivery_key}"
        try:
            if item.attempts > 1:
                resumed = await asyncio.to_thread(self.store.unfinished_actions, item.id)
                if resumed is not None:  # decided before: finish what that decision began
                    error = await self.executor.apply(resumed)
                    return (item.id, None, DEAD if error else DONE, error)
            if isinstance(event, str):
                return (item.id, None, DEAD, event)
            workflow = self.workflows().for_ticket(event.project, event.issue_type, event.request_type)
            event, decision = await self.judge(event, workflow)
            if not decision.actions:
                return (item.id, record_of(event, decision, self.executor.dry_run), DONE, None)
            error = await self.executor.execute(item.id, key, event, decision)
            return (item.id, None, DEAD if error else DONE, error)
        except TrackerError as exc:
            log.warning("delivery %s dead-lettered: %s", item.id, exc)
            return (item.id, None, DEAD, str(exc))
        except Exception as exc:  # a bug must not stop the worker nor lose the delivery
            log.exception("delivery %s failed", item.id)
            return (item.id, None, DEAD, f"internal error: {type(exc).__name__}: {exc}")

    async def judge(self, event: Event, workflow: Workflow | None) -> tuple[Event, Decision]:
        """Decide, fetching from the tracker only what the core asks for.

        Whether the bridge itself made the change matters only for status changes on governed
        tickets by someone who is not a portal customer; the bridge's identity is learnt once.
        """
        decision = decide(event, workflow)
        if decision.rule not in UNJUDGED and event.actor.role is not Role.CUSTOMER:
            if await self.tracker.own_change(event.actor):
                event = replace(event, actor=replace(event.actor, role=Role.BRIDGE))
                decision = decide(event, workflow)
        ticket = None
        for _ in range(MAX_ROUNDS):
            if decision.verdict is not Verdict.NEEDS:
                return event, decision
            if Need.ROLE in decision.needs:
                role = await self.tracker.role_of(event.actor)
                if role is Role.UNKNOWN:
                    return event, _role_unknown(event.actor, decision)
                event = replace(event, actor=replace(event.actor, role=role))
            if Need.TICKET in decision.needs:
                fields = sorted(workflow.required_fields()) if workflow else []
                ticket = await self.tracker.get_ticket(event, fields)
            decision = decide(event, workflow, ticket)
        raise RuntimeError(f"the core kept asking for more facts: {decision.needs}")


def _role_unknown(actor: Actor, decision: Decision) -> Decision:
    return Decision(
        Verdict.IGNORED,
        "role-unknown",
        f"cannot tell whether {actor.name or actor.id or 'the actor'} is a customer",
        decision.workflow,
    )

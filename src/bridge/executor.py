"""The one path every action takes to the tracker.

Actions are recorded (with an idempotency key) before they are applied and marked `done`
or `failed` after; applying a decision again skips what is already done, so a retried or
replayed delivery never transitions or comments twice. The outcome of the last action sent
is handed back, to be recorded in the same transaction that closes the delivery.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Any

from bridge.engine import Action, CommentAction, Decision, Event, TransitionAction
from bridge.store import ActionOutcome, DecisionRecord, PendingAction, Store
from bridge.trackers.base import Tracker, TrackerError

log = logging.getLogger(__name__)

# The error text if an action failed, and the outcome not yet recorded.
Applied = tuple[str | None, tuple[ActionOutcome, ...]]


def plan(key_prefix: str, actions: tuple[Action, ...]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(idempotency key, kind, ticket, payload) for each action of a decision."""
    return [
        (f"{key_prefix}:{i}:{action.kind}", action.kind, action.ticket, asdict(action))
        for i, action in enumerate(actions)
    ]


def describe(action: Action) -> str:
    if isinstance(action, TransitionAction):
        return f"{action.ticket}: transition {action.transition_id or '?'} → {action.to_status}"
    visibility = "public" if action.public else "internal"
    return f"{action.ticket}: {visibility} comment {action.body[:80]!r}"


def record_of(event: Event, decision: Decision, dry_run: bool) -> DecisionRecord:
    actor = event.actor
    who = f"{actor.name} ({actor.id})" if actor.name and actor.id else actor.name or actor.id
    return DecisionRecord(
        tracker=event.tracker,
        ticket=event.ticket,
        event=event.raw_event,
        actor=who,
        actor_role=actor.role.value,
        from_status=event.from_status,
        to_status=event.to_status,
        workflow=decision.workflow,
        verdict=decision.verdict.value,
        rule=decision.rule,
        reason=decision.reason,
        dry_run=dry_run,
        chain_from=decision.chain_from,
    )


class Executor:
    def __init__(self, tracker: Tracker, store: Store, *, dry_run: bool) -> None:
        self.tracker = tracker
        self.store = store
        self.dry_run = dry_run

    async def execute(
        self, delivery_id: int | None, key_prefix: str, event: Event, decision: Decision
    ) -> Applied:
        """Record the decision and apply its actions."""
        record = record_of(event, decision, self.dry_run)
        pending = await asyncio.to_thread(
            self.store.record_decision, delivery_id, record, plan(key_prefix, decision.actions)
        )
        if self.dry_run:
            for action in decision.actions:
                log.info("dry run, not sent: %s", describe(action))
            return None, ()
        return await self.apply(pending)

    async def apply(self, pending: list[PendingAction]) -> Applied:
        """Send the actions in order, stopping at the first failure. Each outcome is recorded
        before the next action is sent; the last one is handed back."""
        last: ActionOutcome | None = None
        sent: list[str] = []
        for action in pending:
            if last is not None:
                await asyncio.to_thread(
                    self.store.set_action_outcome, last.action_id, last.outcome, last.error
                )
            try:
                await self._send(action)
            except TrackerError as exc:
                log.warning("action %s on %s failed: %s", action.kind, action.ticket, exc)
                failed = ActionOutcome(action.id, "failed", str(exc))
                return f"{action.kind} on {action.ticket} failed: {exc}", (failed,)
            last = ActionOutcome(action.id, "done")
            sent.append(action.kind)
        if sent:  # one line per delivery, not one per action
            log.info("applied %s on %s", ", ".join(sent), pending[0].ticket)
        return None, (last,) if last is not None else ()

    async def _send(self, action: PendingAction) -> None:
        payload = action.payload
        if action.kind == TransitionAction.kind:
            await self.tracker.transition(action.ticket, payload["transition_id"])
        elif action.kind == CommentAction.kind:
            await self.tracker.comment(action.ticket, payload["body"], public=payload["public"])
        else:  # pragma: no cover - the engine makes no other kind
            raise ValueError(f"unknown action kind {action.kind!r}")

"""The one path every action takes to the tracker.

Actions are recorded (with an idempotency key) before they are applied. The outcomes of a
decision carried out in full are recorded in the transaction that ends the delivery, which
follows at once; an outcome that stops the decision (a failure, a skip) is recorded the
moment it is known, with those of the actions done before it. A change whose answer never
came — a timeout, a crash between sending and recording — may have been applied all the
same, so before an action is sent again the tracker is asked: is the ticket already where
the transition leads, is there a comment carrying the action's marker? What is done is not
sent twice; a revert whose ticket a person has moved on since is skipped rather than undone.

While the tracker is unavailable an action is retried within the retry policy; after that
it stays `pending`, and the delivery is tried again later (see `Worker`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bridge.engine import (
    Action, CommentAction, Decision, Event, FieldsAction, RemoveAttachmentAction, TransitionAction,
)
from bridge.finishing import Grouped
from bridge.handlers import Handler, tracker_handlers
from bridge.store import ActionOutcome, DecisionRecord, PendingAction, Store
from bridge.store.audit import Decided
from bridge.trackers.base import (
    StatusNotChanged,
    Tracker,
    TrackerError,
    TrackerRejected,
    TrackerUnauthorized,
    TrackerUnavailable,
)
from bridge.trackers.http import RetryPolicy

log = logging.getLogger(__name__)

DONE, FAILED, PENDING, SKIPPED = (
    ActionOutcome.DONE, ActionOutcome.FAILED, ActionOutcome.PENDING, ActionOutcome.SKIPPED
)


@dataclass(frozen=True)
class Applied:
    """How applying a decision's actions ended: all done (no error), or the error that
    stopped them and whether trying again later can help (the tracker was unavailable)."""

    error: str | None = None
    retryable: bool = False
    # the outcomes of a decision carried out in full (action id, outcome, error), to be
    # recorded as the delivery ends (right after this): one transaction, not one per action
    outcomes: tuple[tuple[int, str, str | None], ...] = ()


def plan(key_prefix: str, actions: tuple[Action, ...]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(idempotency key, kind, ticket, payload) for each action of a decision."""
    return [
        (f"{key_prefix}:{i}:{action.kind}", action.kind, action.ticket, asdict(action))
        for i, action in enumerate(actions)
    ]


def describe(action: Action) -> str:
    if isinstance(action, TransitionAction):
        return f"{action.ticket}: transition {action.transition_id or '?'} → {action.to_status}"
    if isinstance(action, CommentAction):
        visibility = "public" if action.public else "internal"
        return f"{action.ticket}: {visibility} comment {action.body[:80]!r}"
    if isinstance(action, RemoveAttachmentAction):
        return f"{action.ticket}: remove attachment {action.attachment} {action.filename!r}"
    if isinstance(action, FieldsAction):
        return f"{action.ticket}: set {', '.join(action.fields)} ({action.rule})"
    return f"{action.ticket}: {action.kind} {action.item} ({action.provider})"


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
    def __init__(
        self,
        tracker: Tracker,
        store: Store,
        *,
        dry_run: bool,
        retry: RetryPolicy | None = None,
        handlers: Mapping[str, Handler] | None = None,
    ) -> None:
        """`handlers`: how each kind of action is applied, besides the tracker's own
        transitions and comments."""
        self.tracker = tracker
        self.store = store
        self.dry_run = dry_run
        self.retry = retry or RetryPolicy()
        self.handlers: dict[str, Handler] = {**tracker_handlers(tracker), **(handlers or {})}
        # decisions made together are recorded together (see `finishing`)
        self._decisions: Grouped[Decided, list[PendingAction]] = Grouped(
            lambda decided: self.store.record_decisions(decided)
        )

    async def execute(
        self, delivery_id: int | None, key_prefix: str, event: Event, decision: Decision
    ) -> Applied:
        """Record the decision and apply its actions."""
        record = record_of(event, decision, self.dry_run)
        pending = await self._decisions.put((delivery_id, record, plan(key_prefix, decision.actions)))
        if self.dry_run:
            for action in decision.actions:
                log.info("dry run, not sent: %s", describe(action))
            return Applied()
        return await self.apply(pending, resumed=False)

    async def apply(self, pending: list[PendingAction], *, resumed: bool) -> Applied:
        """Send one decision's actions in order, stopping at the first failure.

        `resumed`: an earlier attempt may have sent them, so the tracker is asked first.
        """
        sent: list[str] = []
        done: list[int] = []  # applied, recorded as the delivery ends or before an outcome that stops it
        for i, action in enumerate(pending):
            try:
                outcome, note = await self._apply_one(action, look_first=resumed)
            except StatusNotChanged as exc:
                await self._record(done, DONE, None)
                await self._kept(action, pending[i + 1 :], exc)
                return Applied()
            except TrackerError as exc:
                log.warning("action %s on %s failed: %s", action.kind, action.ticket, exc)
                retryable = isinstance(exc, (TrackerUnavailable, TrackerUnauthorized))
                await self._record(done, DONE, None)
                # it stays pending if trying later can help, and is looked up before it is sent
                await self._record(action.id, PENDING if retryable else FAILED, str(exc))
                if isinstance(exc, TrackerUnauthorized):
                    raise  # the worker holds everything until the credentials work
                return Applied(f"{action.kind} on {action.ticket} failed: {exc}", retryable)
            if outcome == DONE:
                done.append(action.id)
                sent.append(action.kind)
                continue
            await self._record(done, DONE, None)
            await self._record(action.id, outcome, note)
            if outcome == SKIPPED:  # the rest belongs to the move that was not made
                rest = [a.id for a in pending[i + 1 :]]
                if rest:
                    await self._record(rest, SKIPPED, "the transition before it was skipped")
                log.info("skipped %s on %s: %s", action.kind, action.ticket, note)
                if sent:
                    log.info("applied %s on %s", ", ".join(sent), pending[0].ticket)
                return Applied()
            done.clear()
        if sent:  # one line per delivery, not one per action
            log.info("applied %s on %s", ", ".join(sent), pending[0].ticket)
        return Applied(outcomes=tuple((action_id, DONE, None) for action_id in done))

    async def _kept(self, action: PendingAction, rest: list[PendingAction], exc: StatusNotChanged) -> None:
        """A move the tracker took and did not make: never silence. The decision needs
        attention, the team reads why in an internal note, and the rest of the decision (a
        comment telling the customer the move was undone) is not sent."""
        log.warning("%s on %s was not made: %s", action.kind, action.ticket, exc)
        reason = f"the tracker kept the status: {exc}"
        await self._record(action.id, FAILED, reason)
        if rest:
            await self._record([a.id for a in rest], SKIPPED, "the transition before it was not made")
        await asyncio.to_thread(self.store.needs_attention, action.id, reason)
        kept = action.payload.get("if_kept")
        note = f"{kept} ({exc})" if kept else (
            f"ticket-bridge could not move this ticket to '{action.payload.get('to_status')}': {exc}. "
            "Please move it by hand, or let the bridge's account make this change in the tracker's workflow."
        )
        try:
            await self.tracker.comment(action.ticket, note, public=False, marker=f"{action.key}:kept")
        except TrackerError as failed:
            log.warning("the note on %s could not be added: %s", action.ticket, failed)

    async def _record(self, ids: int | list[int], outcome: str, note: str | None) -> None:
        if ids == []:
            return
        await asyncio.to_thread(self.store.set_action_outcome, ids, outcome, note)

    async def _apply_one(self, action: PendingAction, *, look_first: bool) -> tuple[str, str | None]:
        """(outcome, note) of one action, attempted within the retry policy; every attempt
        after the first (and the first of a resumed action) looks before it sends."""
        async for attempt in self.retry.retrying():
            with attempt:
                if look_first or attempt.retry_state.attempt_number > 1:
                    found = await self._look_up(action)
                    if found is not None:
                        return found
                await self._send(action)
                return DONE, None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _look_up(self, action: PendingAction) -> tuple[str, str | None] | None:
        return await self._handler(action).look_up(action)

    async def _send(self, action: PendingAction) -> None:
        await self._handler(action).send(action)

    def _handler(self, action: PendingAction) -> Handler:
        try:
            return self.handlers[action.kind]
        except KeyError:
            raise TrackerRejected(f"no way to apply a '{action.kind}' action here") from None

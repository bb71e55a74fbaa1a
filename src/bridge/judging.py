"""Judging one event: the decision core asked, and asked again with each fact it lacks.

`decide` is pure and answers `NEEDS` naming what it lacks; judging fetches exactly that and
nothing more — the ticket as it is now, the actor's role, the customer's earlier moves, the
ticket's recent comments — so that events which cannot lead to an action cost no tracker
call. The worker judges every delivery here; whatever else comes to judge events shares it.

A delivery that names its ticket by id alone (a Data Center comment event) is first
completed from the tracker: its key, project and types choose the workflow. So is a
customer's comment whose delivery lacks the request type (Jira trims the issue in them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from bridge.engine import (
    Rule,
    COMMENT_WINDOW,
    Actor,
    Chain,
    Comment,
    Decision,
    DevItems,
    Event,
    Kind,
    Need,
    Role,
    Ticket,
    Verdict,
    decide,
)
from bridge.devlinks.base import ItemChange
from bridge.engine.development import decide_development, named_items
from bridge.engine.replies import trimmed
from bridge.engine.timers import Stay, decide_timer, entered, step_of
from bridge.store import Store
from bridge.subtasks import judge_parent
from bridge.trackers.base import Tracker, TrackerUnavailable
from bridge.workflows.loader import WorkflowSet
from bridge.workflows.model import Workflow

MAX_ROUNDS = 6
UNJUDGED = frozenset({Rule.NO_WORKFLOW, Rule.NO_RULE, Rule.UNKNOWN_STATUS})


@dataclass
class _Facts:
    """What has been fetched for one event so far."""

    ticket: Ticket | None = None
    chain: Chain | None = None
    comments: tuple[Comment, ...] | None = None
    items: DevItems | None = None


class Development(Protocol):
    """The development providers and the links the bridge made (see jobs/devitems.py)."""

    async def items(self, provider: str, ids: Sequence[str]) -> DevItems: ...

    def linked(self, tracker: str, ticket: str, provider: str) -> list[str]: ...

    def changed(self, provider: str, change: ItemChange) -> list[str] | None: ...


class Judge:
    def __init__(
        self,
        store: Store,
        tracker: Tracker,
        workflows: Callable[[], WorkflowSet],
        *,
        comment_window: timedelta = COMMENT_WINDOW,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        timezone: str = "Europe/Prague",
        development: Development | None = None,
    ) -> None:
        """`development`: None when no provider is configured: entering development then
        checks the number's presence and format only."""
        self.timezone = timezone  # of calendars that name none
        self.development = development
        self.store = store
        self.tracker = tracker
        self.workflows = workflows
        self.comment_window = comment_window
        self.clock = clock

    def workflow_of(self, event: Event) -> Workflow | None:
        return self.workflows().for_ticket(event.project, event.issue_type, event.request_type)

    async def judge(self, event: Event, *, chain: Chain | None = None) -> tuple[Event, Decision]:
        """The decision on `event`, and the event as judged (completed, where it named its
        ticket by id alone; with the bridge's role, where the bridge made the change).

        Whether the bridge itself made the change matters for status changes on governed
        tickets, and for comments (the attention queue must not take the bridge's for the
        team's answer), by someone who is not a portal customer; its identity is learnt once.
        `chain`: the customer's chain on the ticket, where it was read already (see `Worker`).
        """
        if event.kind is Kind.TIMER:
            return await self._judge_timer(event)
        if event.kind is Kind.DEV_ITEM:
            return await self._judge_item(event)
        workflow = self.workflow_of(event)
        decision = decide(event, workflow)
        if decision.rule is Rule.NO_WORKFLOW and event.kind is Kind.STATUS_CHANGED:
            # an issue of a Jira development project, linked to tickets?
            change = ItemChange(event.ticket or "", event.to_status)
            queued = await self._changed("jira", change)
            if queued is not None:
                return event, queued
            moved = await judge_parent(self.tracker, self.workflows(), event)  # a sub-task's?
            if moved is not None:
                return event, moved
        if (event.ticket is None and Need.TICKET in decision.needs) or trimmed(event, self.workflows()):
            event = await self.tracker.resolve(event)
            workflow = self.workflow_of(event)
            decision = decide(event, workflow)
        judged = decision.rule not in UNJUDGED or event.kind is Kind.COMMENTED
        if judged and event.actor.role is not Role.CUSTOMER:
            if await self.tracker.own_change(event.actor):
                event = replace(event, actor=replace(event.actor, role=Role.BRIDGE))
                decision = decide(event, workflow)
        if event.kind is Kind.COMMENTED and workflow is not None and event.actor.role is Role.UNKNOWN:
            # Who commented decides the attention queue: a team member's answer takes the
            # ticket off it. Where the delivery does not say (Data Center, Redmine), ask.
            role = await self.tracker.role_of(event.actor, event.project)
            if role is not Role.UNKNOWN:
                event = replace(event, actor=replace(event.actor, role=role))
                decision = decide(event, workflow)
        return await self._until_decided(event, workflow, decision, chain)

    async def _judge_timer(self, event: Event) -> tuple[Event, Decision]:
        """A timer's step, judged on the ticket as it is now: a ticket that has left the
        status (or left and come back: a new stay) since the step was queued is left alone."""
        assert event.ticket is not None and event.at is not None
        workflow = next((wf for wf in self.workflows() if wf.name == event.workflow), None)
        if workflow is None:
            return event, Decision(Verdict.IGNORED, Rule.NO_WORKFLOW, f"workflow '{event.workflow}' is gone")
        ticket = await self.tracker.ticket(event.ticket)
        since = entered(await self.tracker.history(event.ticket), ticket.status, None)
        event = replace(event, to_status=ticket.status)
        if since is None or since.replace(microsecond=0) != event.at:
            return event, Decision(
                Verdict.STALE, Rule.TIMER_STALE,
                f"the ticket is in '{ticket.status}' since {since}, not in the stay the timer "
                f"counted from ({event.at}); a new stay has its own timer", workflow.name,
            )
        calendar = workflow.calendar.build(self.timezone)
        decision = decide_timer(Stay(ticket, since), workflow, calendar, self.clock())
        if step_of(decision) != event.step:
            return event, Decision(
                Verdict.IGNORED, Rule.TIMER_NOT_DUE, f"{event.step} is not due: {decision.reason}",
                workflow.name,
            )
        return event, decision

    async def _judge_item(self, event: Event) -> tuple[Event, Decision]:
        """A development item changed: from a hook (no ticket), its tickets are queued; for
        one ticket, whether development is done and it moves on."""
        provider = event.step or ""
        assert event.change_id is not None
        if event.ticket is None:
            decided = await self._changed(provider, ItemChange(event.change_id, event.to_status))
            return event, decided or Decision(
                Verdict.IGNORED, Rule.NO_RULE, f"{provider} item {event.change_id}: no ticket is linked to it"
            )
        workflow = next((wf for wf in self.workflows() if wf.name == event.workflow), None)
        if workflow is None or workflow.development is None:
            return event, Decision(Verdict.IGNORED, Rule.NO_WORKFLOW, f"workflow '{event.workflow}' hands nothing to development")
        ticket = await self.tracker.ticket(event.ticket)
        event = replace(event, to_status=ticket.status)
        linked: list[str] = []
        if self.development is not None:
            linked = await asyncio.to_thread(self.development.linked, event.tracker, event.ticket, provider)
        items = await self._items(provider, linked)
        if items.unreachable is not None:
            raise TrackerUnavailable(f"{provider}: {items.unreachable}")  # the job waits, and is tried again
        return event, decide_development(ticket, workflow, linked, items)

    async def _changed(self, provider: str, change: ItemChange) -> Decision | None:
        if self.development is None:
            return None
        queued = await asyncio.to_thread(self.development.changed, provider, change)
        if queued is None:
            return None
        state = f" is {change.state}" if change.state else " changed"
        tickets = ", ".join(queued) if queued else "none not queued before"
        return Decision(
            Verdict.IGNORED, Rule.DEV_CHANGED, f"{provider} item {change.item}{state}: tickets queued: {tickets}"
        )

    async def _items(self, provider: str, ids: Sequence[str]) -> DevItems:
        if self.development is None:
            return DevItems(configured=False)
        return await self.development.items(provider, ids)

    async def _until_decided(
        self, event: Event, workflow: Workflow | None, decision: Decision, chain: Chain | None = None
    ) -> tuple[Event, Decision]:
        facts = _Facts(chain=chain)
        for _ in range(MAX_ROUNDS):
            if decision.verdict is not Verdict.NEEDS:
                return event, decision
            assert event.ticket is not None  # completed above, or the core would not ask more
            if Need.CHAIN in decision.needs and facts.chain is None:
                origin, reached = await asyncio.to_thread(
                    self.store.customer_chain, event.tracker, event.ticket
                )
                facts.chain = Chain(origin, reached)
            if Need.ROLE in decision.needs:
                role = await self.tracker.role_of(event.actor, event.project)
                if role is Role.UNKNOWN:
                    return event, _role_unknown(event.actor, decision)
                event = replace(event, actor=replace(event.actor, role=role))
            if Need.TICKET in decision.needs:
                fields = sorted(workflow.required_fields()) if workflow else []
                facts.ticket = await self.tracker.get_ticket(event, fields)
            if Need.CHANNEL in decision.needs and facts.ticket is not None:
                facts.ticket = replace(facts.ticket, channel=await self.tracker.channel(event.ticket) or "")
            if Need.COMMENTS in decision.needs:
                facts.comments = await self.tracker.recent_comments(event.ticket)
            if Need.ITEMS in decision.needs and workflow is not None and workflow.development is not None:
                assert facts.ticket is not None  # the core reads the items' numbers from it
                facts.items = await self._items(workflow.development.provider, named_items(workflow, facts.ticket))
            decision = decide(
                event, workflow, facts.ticket, facts.chain, facts.comments,
                now=self.clock(), window=self.comment_window, items=facts.items,
            )
        raise RuntimeError(f"the core kept asking for more facts: {decision.needs}")


def _role_unknown(actor: Actor, decision: Decision) -> Decision:
    return Decision(
        Verdict.IGNORED,
        Rule.ROLE_UNKNOWN,
        f"cannot tell whether {actor.name or actor.id or 'the actor'} is a customer",
        decision.workflow,
    )

"""Development items coming back: when an item linked to tickets changes, each of its
tickets is judged again, on its own, whether development is done and it moves on.

A change arrives three ways: a provider's hook (Azure DevOps service hooks), a Jira delivery
about an issue of the development project, or polling (reconcile reads the linked items
that are not done yet, in batches, so a missed hook is caught within one sweep). Which
tickets hang on an item comes from the bridge's own record of the links it made, never from
a tracker search. Each ticket's turn is a job delivery, judged in the ticket's order like
its webhooks; its key names the item's state, so a hook and a poll that see the same state
queue it once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bridge.devlinks.base import DevProvider, ItemChange
from bridge.engine import Actor, DevItems, Event, Kind
from bridge.store import JobRecords
from bridge.store.links import Links
from bridge.trackers.base import TrackerUnavailable

log = logging.getLogger(__name__)
BATCH = 200  # items read from a provider in one call while polling
DEVOPS = "devops"  # the inbox's name for Azure DevOps service hooks


def hook_event(provider: str, change: ItemChange) -> Event:
    """A provider's hook as the event the worker judges: about the item, not a ticket."""
    return Event(
        tracker=DEVOPS if provider == "azure-devops" else provider,
        kind=Kind.DEV_ITEM,
        ticket=None,
        actor=Actor(provider, provider),
        raw_event=f"{provider}:item-changed",
        to_status=change.state,
        change_id=change.item,
        step=provider,
    )


def item_work(ticket: str, workflow: str | None, provider: str, item: str, state: str) -> tuple[str, dict[str, Any]]:
    body = {"job": "devitem", "ticket": ticket, "workflow": workflow, "provider": provider,
            "item": item, "state": state}
    return f"devitem:{provider}:{item}:{state}:{ticket}", body


@dataclass
class Polled:
    items: int = 0  # linked items not done, read from their providers
    queued: list[str] = field(default_factory=list)  # tickets queued to be judged


class Development:
    """The development providers configured, and the links the bridge made."""

    def __init__(self, providers: dict[str, DevProvider], links: Links, records: JobRecords) -> None:
        self.providers = providers
        self.links = links
        self.records = records

    async def items(self, provider: str, ids: Sequence[str]) -> DevItems:
        """What `provider` says of `ids`: not configured, unreachable (after the provider
        client's own retries), or the items that exist."""
        found = self.providers.get(provider)
        if found is None:
            return DevItems(configured=False)
        try:
            return DevItems(found=await found.items(list(ids)))
        except TrackerUnavailable as exc:
            return DevItems(unreachable=str(exc))

    def linked(self, tracker: str, ticket: str, provider: str) -> list[str]:
        """The items of `provider` the bridge linked to the ticket."""
        return [link.item for link in self.links.of_ticket(tracker, ticket) if link.provider == provider]

    def changed(self, provider: str, change: ItemChange) -> list[str] | None:
        """Queue every ticket linked to the changed item to be judged: the tickets queued
        now (one already queued for this state is not queued again); None when no ticket
        is linked to the item."""
        linked = self.links.tickets_of(provider, change.item)
        if not linked:
            return None
        if change.state is not None and all(link.state == change.state for link in linked):
            return []  # not its state: a field, a comment, the link the bridge added
        state = change.state or ""
        self.links.set_state(provider, change.item, change.state, done=linked[0].done)
        queued: list[str] = []
        for link in linked:
            key, body = item_work(link.ticket, link.workflow, provider, change.item, state)
            if self.records.enqueue(link.tracker, [(key, body)]):
                queued.append(link.ticket)
        return queued

    async def poll(self) -> Polled:
        """Read every linked item not yet done from its provider; queue the tickets of those
        whose state changed since last seen."""
        polled = Polled()
        for name, provider in self.providers.items():
            after: str | None = None
            while batch := self.links.open_items(name, after, BATCH):
                after = batch[-1]
                polled.items += len(batch)
                found = await provider.items(batch)
                for item in batch:
                    now = found.get(item)
                    known = self.links.tickets_of(name, item)
                    if now is None or not known or known[0].state == now.state:
                        continue
                    polled.queued += self.changed(name, ItemChange(item, now.state)) or []
        if polled.queued:
            log.warning("development items: %d tickets queued by polling: %s", len(polled.queued),
                        ", ".join(polled.queued[:20]))
        return polled

"""How each kind of action reaches the tracker, and how a retry finds out whether an earlier
attempt was applied already.

The executor asks the handler of an action's kind; a new kind of action (a development
link, say) comes with its own handler rather than another branch here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from bridge.devlinks.base import DevProvider
from bridge.engine import CommentAction, TransitionAction
from bridge.engine.creation import holds
from bridge.store import ActionOutcome, PendingAction
from bridge.store.links import Links
from bridge.trackers.base import Tracker, TrackerRejected
from bridge.trackers.jira_links import global_id

log = logging.getLogger(__name__)

Found = tuple[ActionOutcome, str | None]  # what an earlier attempt left, with a note


class Handler(Protocol):
    async def look_up(self, action: PendingAction) -> Found | None:
        """What the other side shows of an action that may have been applied: (outcome,
        note) when there is nothing to send, None when it must be sent."""

    async def send(self, action: PendingAction) -> None:
        """Apply the action, once (the executor retries)."""


class Transitions:
    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    async def look_up(self, action: PendingAction) -> Found | None:
        payload = action.payload
        status = await self.tracker.status_of(action.ticket)
        if status.casefold() == payload["to_status"].casefold():
            log.info("%s is already in '%s'; not sent again", action.ticket, status)
            return ActionOutcome.DONE, None
        judged_in = payload.get("from_status")
        if judged_in and status.casefold() != judged_in.casefold():
            return ActionOutcome.SKIPPED, f"the ticket was moved on to '{status}' meanwhile; left there"
        return None

    async def send(self, action: PendingAction) -> None:
        payload = action.payload
        transition = payload["transition_id"] or await self._transition_to(action.ticket, payload["to_status"])
        await self.tracker.transition(action.ticket, transition)

    async def _transition_to(self, key: str, status: str) -> str:
        """The transition leading to `status` from where the ticket is now: the later steps
        of a timer's path are known only once the ticket gets there."""
        ticket = await self.tracker.ticket(key)
        wanted = status.casefold()
        found = next((t.id for t in ticket.transitions or () if t.to_status.casefold() == wanted), None)
        if found is None:
            raise TrackerRejected(f"{key}: no transition leads from '{ticket.status}' to '{status}'")
        return found


class Comments:
    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    async def look_up(self, action: PendingAction) -> Found | None:
        if await self.tracker.has_comment(action.ticket, action.key, action.payload["body"]):
            log.info("%s already has comment %s; not sent again", action.ticket, action.key)
            return ActionOutcome.DONE, None
        return None

    async def send(self, action: PendingAction) -> None:
        payload = action.payload
        await self.tracker.comment(action.ticket, payload["body"], public=payload["public"], marker=action.key)


class Linking:
    """Links a ticket and a development item both ways. Each step may be repeated without
    harm — the record is keyed by ticket and item, the provider adds its link back once,
    and Jira updates the ticket's remote link by its global id — so a retry simply sends
    again."""

    def __init__(
        self,
        links: Links,
        providers: Mapping[str, DevProvider],
        tracker: Tracker,
        ticket_url: Callable[[str], str],
    ) -> None:
        self.links = links
        self.providers = providers
        self.tracker = tracker
        self.ticket_url = ticket_url

    async def look_up(self, action: PendingAction) -> Found | None:
        return None

    async def send(self, action: PendingAction) -> None:
        link = action.payload
        provider, item = link["provider"], link["item"]
        await asyncio.to_thread(
            self.links.add, self.tracker.name, action.ticket, provider, item,
            link.get("state") or None, bool(link["resolved"]), link.get("workflow") or None,
        )
        found = self.providers.get(provider)
        if found is not None:
            await found.link_back(item, action.ticket, self.ticket_url(action.ticket))
            if getattr(found, "same_site", False):
                return  # an issue link between the two shows on both already
        title = f"{item}: {link['title']}" if link.get("title") else item
        await self.tracker.remote_link(action.ticket, global_id(provider, item), link["url"], title, bool(link["resolved"]))


class FieldUpdates:
    """Sets a ticket's fields. Before sending again it reads them: fields that already hold
    the values (the earlier attempt got through) are not set twice."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    async def look_up(self, action: PendingAction) -> Found | None:
        wanted = action.payload["fields"]
        ticket = await self.tracker.ticket(action.ticket, list(wanted))
        if all(holds(ticket.fields.get(f), v) for f, v in wanted.items()):
            log.info("%s already has %s; not sent again", action.ticket, ", ".join(wanted))
            return ActionOutcome.DONE, None
        return None

    async def send(self, action: PendingAction) -> None:
        await self.tracker.set_fields(action.ticket, action.payload["fields"])


def tracker_handlers(tracker: Tracker) -> dict[str, Handler]:
    """The handlers of the actions the tracker itself carries out."""
    return {TransitionAction.kind: Transitions(tracker), CommentAction.kind: Comments(tracker)}

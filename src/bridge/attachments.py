"""How the executor removes an attachment that breaks a workflow's policy.

Deleting is its own proof of being done: an attachment that is no longer there (an earlier
attempt whose answer was lost, an agent who removed it first) is what removing it aims at,
so a retry simply deletes again and takes "not found" as done. Nothing is looked up first.
"""

from __future__ import annotations

import logging

from bridge.engine import RemoveAttachmentAction
from bridge.handlers import Found, Handler
from bridge.store import PendingAction
from bridge.trackers.base import Tracker

log = logging.getLogger(__name__)


class AttachmentRemoval:
    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker

    async def look_up(self, action: PendingAction) -> Found | None:
        return None

    async def send(self, action: PendingAction) -> None:
        payload = action.payload
        if not await self.tracker.remove_attachment(payload["attachment"]):
            log.info("%s: attachment %s was gone already", action.ticket, payload["attachment"])


def attachment_handlers(tracker: Tracker) -> dict[str, Handler]:
    """The handler of the action that removes attachments, by its kind."""
    return {RemoveAttachmentAction.kind: AttachmentRemoval(tracker)}

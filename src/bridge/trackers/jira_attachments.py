"""Attachments on Jira issues: which ones a change added, and deleting one.

Jira reports an added attachment in the `jira:issue_updated` changelog as an item whose
`field` is `Attachment`, with the attachment's id in `to` and its file name in `toString`
(a removed one has the id in `from`). Some deliveries carry the item without ids, with the
names before and after in `fromString` and `toString`, joined by spaces; the names that
were not there before are then what was added. The attachments' metadata (name, size,
author) is in the issue's `fields.attachment`, which the engine reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.engine.model import NAME_LENGTH
from bridge.trackers.base import TrackerRejected
from bridge.trackers.http import RestClient, segment, send_once

ITEM = "attachment"  # the changelog item's field, in any case
MOST = 100  # attachments one change names that are judged; a delivery may say anything


def added_attachments(changelog: Any) -> tuple[str, ...]:
    """The attachments a change added: their ids, or their names where the item has none."""
    items = changelog.get("items") if isinstance(changelog, Mapping) else None
    added: list[str] = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, Mapping) or not _is_attachment(item):
            continue
        ident = item.get("to")
        if isinstance(ident, int) and not isinstance(ident, bool):
            ident = str(ident)
        if isinstance(ident, str) and ident.strip():
            added.append(ident.strip())
        elif isinstance(item.get("toString"), str):
            before = item.get("fromString")
            earlier = set(before.split()) if isinstance(before, str) else set()
            added += [name for name in item["toString"].split() if name not in earlier]
    return tuple(dict.fromkeys(a.replace("\x00", "")[:NAME_LENGTH] for a in added))[:MOST]


def _is_attachment(item: Mapping[str, Any]) -> bool:
    return any(isinstance(item.get(k), str) and item[k].casefold() == ITEM for k in ("fieldId", "field"))


async def delete_attachment(client: RestClient, api: str, attachment: str) -> bool:
    """Delete the attachment (one attempt); False when Jira has none with that id, because
    it is gone already (a retry after a lost answer, or an agent was quicker)."""
    try:
        await send_once(client, "DELETE", f"{api}/attachment/{segment(attachment)}")
    except TrackerRejected as exc:
        if exc.status == 404:
            return False
        raise
    return True

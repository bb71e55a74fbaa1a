"""Links that make a Jira issue show what it is tied to: remote links and issue links.

A ticket handed to development carries a remote link to the development item, and a Jira
development issue shows the ticket back. Both must survive being made again: the executor
retries an action whose answer was lost, and a repeated delivery judges the ticket twice.

- A remote link is sent with a `globalId`. Jira (Cloud and Data Center) updates the link
  that already has that id instead of adding another, so sending it again is harmless and
  no look-up is needed first; it is also how `status.resolved` is set once the item is done.
- An issue link (both issues on one site) has no such id. Jira answers a repeated link of
  the same type and direction as created without adding one, but a link made by hand the
  other way or of another type would be doubled, so the issue's `issuelinks` are read first
  and any link between the two counts: a developer sees the ticket either way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from bridge.trackers.http import RestClient, RetryPolicy, segment, send, send_once

GLOBAL_ID_PREFIX = "ticket-bridge"
GLOBAL_ID_LENGTH = 255  # Jira refuses a longer globalId
TITLE_LENGTH = 255  # and a longer remote link title
RELATES = "Relates"  # the link type every Jira site starts with


def global_id(provider: str, item: str) -> str:
    """The remote link's id for `item` of `provider` (`ticket-bridge:azure-devops:4711`):
    the same on every call, so linking again updates the one link. An id Jira would find
    too long is replaced by a digest of it, still stable."""
    ident = f"{GLOBAL_ID_PREFIX}:{provider}:{item}"
    if len(ident) <= GLOBAL_ID_LENGTH:
        return ident
    return f"{GLOBAL_ID_PREFIX}:{provider}:sha256:{hashlib.sha256(item.encode()).hexdigest()}"


def remote_link_body(
    ident: str, url: str, title: str, resolved: bool | None = None
) -> dict[str, Any]:
    """The body of `POST /issue/{key}/remotelink`. `resolved` None leaves the status out
    (where the bridge does not know it); Jira shows a resolved link struck through."""
    target: dict[str, Any] = {"url": url, "title": (title or url)[:TITLE_LENGTH]}
    if resolved is not None:
        target["status"] = {"resolved": resolved}
    return {"globalId": ident, "object": target}


async def put_remote_link(client: RestClient, api: str, key: str, body: dict[str, Any]) -> None:
    """Create the remote link, or update the one with the same globalId (one attempt)."""
    await send_once(client, "POST", f"{api}/issue/{segment(key)}/remotelink", json=body)


def linked_keys(issue: Any) -> set[str]:
    """The keys of the issues linked to `issue` (a `GET /issue` answer with `issuelinks`),
    whichever way and of whatever type."""
    fields = issue.get("fields") if isinstance(issue, Mapping) else None
    links = fields.get("issuelinks") if isinstance(fields, Mapping) else None
    keys = set()
    for link in links if isinstance(links, list) else ():
        if not isinstance(link, Mapping):
            continue
        for side in ("inwardIssue", "outwardIssue"):
            other = link.get(side)
            if isinstance(other, Mapping) and isinstance(other.get("key"), str):
                keys.add(other["key"])
    return keys


async def link_issues(
    client: RestClient, api: str, retry: RetryPolicy, item: str, ticket: str
) -> bool:
    """Link `item` and `ticket` (same site) with a Relates link unless they are linked
    already; True when a link was made. The read is retried, the link sent once."""
    path = f"{api}/issue/{segment(item)}"
    issue = (await send(client, "GET", path, retry, params={"fields": "issuelinks"})).json()
    if ticket in linked_keys(issue):
        return False
    body = {"type": {"name": RELATES}, "outwardIssue": {"key": ticket}, "inwardIssue": {"key": item}}
    await send_once(client, "POST", f"{api}/issueLink", json=body)
    return True

"""A ticket's changelog as the stand-in keeps it and as Jira shows it.

Every status change the stand-in makes (a person's move, the bridge's transition, a seeded
history) is an entry with an id, author, time and status item; the webhook sent for a move
carries the same id as `changelog.id`. Jira shows the changelog three ways, each cut short
differently, and the stand-in shows it the same ways:

- Cloud `GET /issue/{key}/changelog`: every entry, oldest first, in pages of at most 100;
- Cloud `expand=changelog` (on an issue, and on a search): only the newest entries, newest
  first, with `total` saying how many there are; Atlassian's notes put the cut at 100 for
  an issue and at 40 for the enhanced search (JRACLOUD-96459);
- Data Center `expand=changelog`: every entry, oldest first (it has no /changelog resource).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .times import jira_time, parse_time

if TYPE_CHECKING:
    from .state import Issue, JiraStandin

CHANGELOG_PAGE_MOST = 100  # Cloud's /changelog pages
ISSUE_CHANGELOG_MOST = 100  # Cloud's expand=changelog on one issue
SEARCH_CHANGELOG_MOST = 40  # Cloud's expand=changelog on an enhanced search


@dataclass
class Change:
    id: str
    by: dict[str, Any]  # the user who made it, as seeded or as the bridge's account
    at: datetime
    from_status: str | None
    to_status: str


def seeded(standin: JiraStandin, entries: Any, status: str) -> list[Change]:
    """A seed's history (`[{"from", "to", "at", "by"}, …]`, oldest first) as changes; it
    must end in the ticket's status (ValueError, which the control answers with a 400)."""
    if not isinstance(entries, list):
        raise ValueError("history must be a list of {from, to, at, by}, oldest first")
    changes = [Change(standin.next_id(), entry.get("by") or standin.account,
                      parse_time(entry["at"]), entry.get("from"), entry["to"])
               for entry in entries]
    if changes and changes[-1].to_status != status:
        raise ValueError(f"history ends in {changes[-1].to_status!r}, the status is {status!r}")
    if any(later.at < earlier.at for earlier, later in zip(changes, changes[1:])):
        raise ValueError("history must be oldest first")
    return changes


def entry_json(standin: JiraStandin, change: Change, base: str) -> dict[str, Any]:
    """One changelog entry as Jira shows it."""
    item = {"field": "status", "fieldtype": "jira", "fieldId": "status",
            "from": standin.status(change.from_status)["id"] if change.from_status else None,
            "fromString": change.from_status,
            "to": standin.status(change.to_status)["id"], "toString": change.to_status}
    return {"id": change.id, "author": standin.user_json(change.by, base),
            "created": jira_time(change.at, standin.zone), "items": [item]}


def expanded(standin: JiraStandin, issue: Issue, base: str, most: int | None) -> dict[str, Any]:
    """`changelog` of an issue answered with `expand=changelog`: Cloud's newest `most`
    entries, newest first; Data Center's whole changelog (`most` None), oldest first."""
    changes = issue.history if most is None else issue.history[::-1][:most]
    return {"startAt": 0, "maxResults": len(issue.history) if most is None else most,
            "total": len(issue.history),
            "histories": [entry_json(standin, change, base) for change in changes]}


def page(standin: JiraStandin, issue: Issue, base: str, start: int, most: int) -> dict[str, Any]:
    """One page of Cloud's `GET /issue/{key}/changelog`, oldest first."""
    most = max(1, min(most, CHANGELOG_PAGE_MOST))
    values = issue.history[start:start + most]
    address = f"{base}/rest/api/3/issue/{issue.key}/changelog"
    last = start + len(values) >= len(issue.history)
    result = {"self": f"{address}?startAt={start}&maxResults={most}", "maxResults": most,
              "startAt": start, "total": len(issue.history), "isLast": last,
              "values": [entry_json(standin, change, base) for change in values]}
    if not last:
        result["nextPage"] = f"{address}?startAt={start + most}&maxResults={most}"
    return result


def state_json(standin: JiraStandin, issue: Issue) -> list[dict[str, Any]]:
    """The history as `GET /_standin/issues/KEY` shows it, for tests to read."""
    return [{"id": c.id, "from": c.from_status, "to": c.to_status,
             "by": c.by.get("accountId") or c.by.get("name"), "at": jira_time(c.at, standin.zone)}
            for c in issue.history]

"""Jira's changelog and searched issues as the core's values: the status history timers
count from, and the tickets a search finds.

A change is known by its changelog history id, the id a webhook carries as `changelog.id`,
so a change seen both in a delivery and in a sweep is recognised as one. Pure, like
`jira_parsing`: an answer not shaped like Jira's raises `MalformedDelivery` saying what is
wrong, and the tracker refuses it naming the call that answered it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bridge.engine import Found, StatusChange, Ticket
from bridge.engine.model import KEY_LENGTH, NAME_LENGTH
from bridge.trackers.base import MalformedDelivery, aware_time
from bridge.trackers.jira_parsing import ISSUE_KEY, actor_of, request_type_of


jira_time = aware_time  # as it writes them


def status_changes(histories: Any, where: str = "changelog.histories") -> list[StatusChange]:
    """The status changes among changelog entries, in the order given; entries that
    changed other fields only are left out."""
    if not isinstance(histories, list):
        raise MalformedDelivery(f"'{where}' is not a list")
    changes = []
    for entry in histories:
        item = _status_item(entry, where)
        if item is not None:
            changes.append(_change(entry, item, where))
    return changes


def oldest_first(changes: Iterable[StatusChange]) -> tuple[StatusChange, ...]:
    """By time, then by id: Jira numbers its changes in the order made, and two of them
    may share a millisecond. (A search answer lists the newest first.)"""
    return tuple(sorted(changes, key=lambda change: (change.at, _number(change.id))))


def search_history(issue: Mapping[str, Any]) -> tuple[StatusChange, ...] | None:
    """The status history a search answer (`expand=changelog`) carries for `issue`, or
    None where it does not hold all of it: Jira Cloud's search returns only the newest
    entries of a long changelog, and says how many there are in `total`."""
    changelog = issue.get("changelog")
    if not isinstance(changelog, Mapping):
        return None
    histories, total = changelog.get("histories"), changelog.get("total")
    most, start = changelog.get("maxResults"), changelog.get("startAt", 0)
    if not isinstance(histories, list) or not _count(total) or start != 0:
        return None
    if total > len(histories) or (_count(most) and most < total):
        return None
    return oldest_first(status_changes(histories, f"{issue.get('key')}: changelog.histories"))


def searched(issue: Any, *, with_history: bool) -> Found:
    """A ticket of a search answer. With `with_history`, its history where the answer
    holds all of it; None tells the caller to read it separately."""
    if not isinstance(issue, Mapping):
        raise MalformedDelivery("an issue is not an object")
    key = issue.get("key")
    if not isinstance(key, str) or len(key) > KEY_LENGTH or not ISSUE_KEY.fullmatch(key):
        raise MalformedDelivery(f"'key' {str(key)[:80]!r} is not a Jira issue key")
    fields = issue.get("fields") or {}
    if not isinstance(fields, Mapping):
        raise MalformedDelivery(f"{key}: 'fields' is not an object")
    updated = fields.get("updated")
    return Found(
        ticket=Ticket(key, _name(_get(fields.get("status"), "name")) or "", dict(fields), transitions=None),
        project=_name(_get(fields.get("project"), "key")),
        issue_type=_name(_get(fields.get("issuetype"), "name")),
        request_type=request_type_of(fields),
        updated=None if updated is None else jira_time(updated, f"{key}: fields.updated"),
        history=search_history(issue) if with_history else None,
    )


def _status_item(entry: Any, where: str) -> Mapping[str, Any] | None:
    if not isinstance(entry, Mapping):
        raise MalformedDelivery(f"an entry of '{where}' is not an object")
    items = entry.get("items")
    if not isinstance(items, list):
        raise MalformedDelivery(f"'{where}.items' is not a list")
    for item in items:
        if isinstance(item, Mapping) and (item.get("fieldId") or item.get("field")) == "status":
            return item
    return None


def _change(entry: Mapping[str, Any], item: Mapping[str, Any], where: str) -> StatusChange:
    ident = entry.get("id")
    if isinstance(ident, bool) or not isinstance(ident, (str, int)) or str(ident) == "":
        raise MalformedDelivery(f"'{where}.id' is missing")
    to_status = _name(item.get("toString"))
    if to_status is None:
        raise MalformedDelivery(f"'{where}.items.toString' of change {ident} is missing")
    return StatusChange(
        id=str(ident)[:KEY_LENGTH],
        at=jira_time(entry.get("created"), f"{where}.created"),
        actor=actor_of(entry.get("author"), f"{where}.author"),
        from_status=_name(item.get("fromString")),
        to_status=to_status,
    )


def _number(ident: str) -> int:
    return int(ident) if ident.isascii() and ident.isdigit() else -1


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def _name(value: Any) -> str | None:
    """A name as the core keeps it: NUL dropped, cut to fit the audit log."""
    return value.replace("\x00", "")[:NAME_LENGTH] if isinstance(value, str) else None

"""Jira's JSON as the core's values: webhook deliveries as events, and the issues and
comments the REST API answers with when judging asks for them.

Pure and total: a delivery is any JSON object a signed request carried, so every function
here ends in a value or in `MalformedDelivery` naming what is wrong, never in another
exception; and every text it keeps is bounded and free of NUL, to fit the audit log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson

from bridge.engine import Actor, Comment, Event, Found, Kind, Role, StatusChange, Ticket
from bridge.engine.model import KEY_LENGTH, NAME_LENGTH
from bridge.trackers.base import MalformedDelivery
from bridge.trackers.jira_attachments import added_attachments
from bridge.trackers.jira_subtasks import with_family

# Jira's issue key: the project key (a letter, then letters, digits or underscores) and the
# issue's number. Anything else would not name one ticket once put into a REST path.
ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]*-[1-9][0-9]*", re.IGNORECASE | re.ASCII)
# Deeper than any editor nests a comment; walking it would only cost time.
MAX_COMMENT_DEPTH = 100
ISSUE_EVENT = "jira:issue_"
COMMENT_EVENT = "comment_"
COMMENTED_TYPES = frozenset({"issue_commented", "issue_comment_edited"})
COMMENT_DELETED_TYPES = frozenset({"issue_comment_deleted"})
INTERNAL_PROPERTY = "sd.public.comment"  # Service Management's mark of an internal note
# A comment's REST address names its issue by id: …/rest/api/2/issue/10148/comment/10045
COMMENT_ADDRESS = re.compile(r"/rest/api/[0-9]+/issue/([0-9]{1,20})/comment/", re.ASCII)


def envelope_problem(payload: Any) -> str | None:
    """Why a parsed body is not a Jira webhook delivery at all, or None. Cheap enough for
    the intake to answer 422 before storing. An issue event (`jira:issue_*`) names its issue
    by key, always: one that does not can never be judged, however often it is replayed."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("webhookEvent"), str):
        return "not a Jira webhook delivery: 'webhookEvent' is missing"
    name = payload["webhookEvent"]
    if name.startswith(ISSUE_EVENT) and not isinstance(_get(payload.get("issue"), "key"), str):
        return f"{_text(name, 'webhookEvent', KEY_LENGTH)}: 'issue.key' is missing"
    return None


def parse_delivery(payload: Mapping[str, Any], *, tracker: str = "jira") -> Event:
    """Normalise a Jira webhook body into the core's event. Pure and total: any JSON object
    becomes an event or raises `MalformedDelivery` saying what is wrong with it.

    Deliveries that carry no issue are events too: those about no one ticket (projects,
    versions, sprints, boards, users, issue links, worklogs) become `Kind.NO_TICKET`; a
    Server/Data Center comment event, which names its issue only in the comment's REST
    address, becomes an event with the issue's id and no key, to be looked up.
    """
    problem = envelope_problem(payload)
    if problem is not None:
        raise MalformedDelivery(problem)
    name = payload["webhookEvent"]
    try:
        if payload.get("issue") is None and not name.startswith(ISSUE_EVENT):
            if name.startswith(COMMENT_EVENT):
                return _comment_named_by_id(payload, name, tracker)
            return _no_ticket(payload, name, tracker)
        return _event(payload, name, tracker)
    except MalformedDelivery as exc:
        raise MalformedDelivery(f"{_text(name, 'webhookEvent', KEY_LENGTH)}: {exc}") from None


def _event(payload: Mapping[str, Any], name: str, tracker: str) -> Event:
    issue = payload.get("issue")
    if not isinstance(issue, Mapping) or not isinstance(issue.get("key"), str):
        raise MalformedDelivery("'issue.key' is missing")
    key = issue["key"]
    if len(key) > KEY_LENGTH or not ISSUE_KEY.fullmatch(key):
        raise MalformedDelivery(f"'issue.key' {key[:80]!r} is not a Jira issue key")
    fields = issue.get("fields") or {}
    if not isinstance(fields, Mapping):
        raise MalformedDelivery("'issue.fields' is not an object")

    comment = _comment_of(payload)
    status_item = _status_item(payload.get("changelog"))
    kind = _kind(payload, name, status_item, comment)
    status = _text(_get(fields.get("status"), "name"), "issue.fields.status.name")
    attached = added_attachments(payload.get("changelog"))
    return Event(
        tracker=tracker,
        kind=kind,
        ticket=key,
        actor=_actor(payload, name, comment),
        project=_text(_get(fields.get("project"), "key"), "issue.fields.project.key"),
        issue_type=_text(_get(fields.get("issuetype"), "name"), "issue.fields.issuetype.name"),
        request_type=request_type_of(fields),
        from_status=_text(_get(status_item, "fromString"), "changelog.items.fromString"),
        to_status=_text(_get(status_item, "toString"), "changelog.items.toString") if status_item else status,
        comment=_said(comment, kind),
        raw_event=_text(name, "webhookEvent", KEY_LENGTH),
        snapshot=with_family(Ticket(key, status or "", dict(fields), transitions=None), fields),
        ticket_id=_digits(issue.get("id")),
        at=_at(payload.get("timestamp")),
        change_id=_change_id(payload.get("changelog")) if status_item or attached else None,
        attached=attached,
        public=public_of(comment),
    )


def _change_id(changelog: Mapping[str, Any]) -> str | None:
    """Jira's changelog id: the same in the webhook and in the ticket's history."""
    found = changelog.get("id")
    if isinstance(found, int) and not isinstance(found, bool):
        found = str(found)
    return found if isinstance(found, str) and found.isdigit() and len(found) <= 64 else None


def _comment_named_by_id(payload: Mapping[str, Any], name: str, tracker: str) -> Event:
    """A Server/Data Center comment event: no `issue`, the issue's id in `comment.self`."""
    comment = _comment_of(payload)
    address = _get(comment, "self")
    found = COMMENT_ADDRESS.search(address) if isinstance(address, str) else None
    if found is None:
        raise MalformedDelivery("'issue.key' is missing and 'comment.self' names no issue")
    kind = _kind(payload, name, None, comment)
    return Event(
        tracker=tracker,
        kind=kind,
        ticket=None,
        actor=_actor(payload, name, comment),
        comment=_said(comment, kind),
        raw_event=_text(name, "webhookEvent", KEY_LENGTH),
        ticket_id=found[1],
        at=_at(payload.get("timestamp")),
        public=public_of(comment),
    )


def _no_ticket(payload: Mapping[str, Any], name: str, tracker: str) -> Event:
    """An event about no one ticket. A worklog names its ticket by id and its author, which
    the event keeps; the delivery's body stays in the inbox for whatever reads it later."""
    worklog = payload.get("worklog")
    author = _get(worklog, "updateAuthor") or _get(worklog, "author")
    return Event(
        tracker=tracker,
        kind=Kind.NO_TICKET,
        ticket=None,
        actor=actor_of(author, "worklog.author"),
        raw_event=_text(name, "webhookEvent", KEY_LENGTH),
        ticket_id=_digits(_get(worklog, "issueId")),
        at=_at(payload.get("timestamp")),
    )


def _kind(
    payload: Mapping[str, Any], name: str, status_item: Mapping[str, Any] | None, comment: Any
) -> Kind:
    """What happened. An issue event may be about a comment: Jira names that in
    `issue_event_type_name`, and older Server versions only by carrying the `comment`."""
    if name == "jira:issue_updated":
        if status_item:
            return Kind.STATUS_CHANGED
        what = _text(payload.get("issue_event_type_name"), "issue_event_type_name")
        if what in COMMENT_DELETED_TYPES:
            return Kind.COMMENT_DELETED
        if what in COMMENTED_TYPES or (what is None and comment is not None):
            return Kind.COMMENTED
        return Kind.UPDATED
    if name == "jira:issue_created":
        return Kind.CREATED
    if name == "comment_deleted":
        return Kind.COMMENT_DELETED
    if name.startswith(COMMENT_EVENT):
        return Kind.COMMENTED
    return Kind.OTHER


def _actor(payload: Mapping[str, Any], name: str, comment: Mapping[str, Any] | None) -> Actor:
    """Who made the change: the delivery's `user`; for a comment event without one, the
    comment's author, or its last editor when it was edited. Jira does not say who deleted
    a comment when it sends no `user`."""
    if name == "comment_updated" and _get(comment, "updateAuthor"):
        return actor_of(_get(comment, "updateAuthor"), "comment.updateAuthor")
    if payload.get("user"):
        return actor_of(payload.get("user"), "user")
    if comment is not None and name != "comment_deleted":
        return actor_of(comment.get("author"), "comment.author")
    return Actor(None)


def _comment_of(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    comment = payload.get("comment")
    return comment if isinstance(comment, Mapping) else None


def public_of(comment: Mapping[str, Any] | None) -> bool | None:
    """Whether customers see a comment: Cloud says so in `jsdPublic`; the REST API lists the
    Service Management property `sd.public.comment` (`{"internal": true}` for an internal
    note) with a comment's properties. None where neither is said."""
    if comment is None:
        return None
    if isinstance(comment.get("jsdPublic"), bool):
        return comment["jsdPublic"]
    properties = comment.get("properties")
    for prop in properties if isinstance(properties, list) else []:
        if isinstance(prop, Mapping) and prop.get("key") == INTERNAL_PROPERTY:
            value = prop.get("value")
            return not (isinstance(value, Mapping) and value.get("internal") in (True, "true"))
    return None


def _said(comment: Mapping[str, Any] | None, kind: Kind) -> str | None:
    """The text of a comment made or edited in this change; a deleted one says nothing."""
    if comment is None or kind is Kind.COMMENT_DELETED:
        return None
    return comment_text(comment.get("body"))


def parse_body(body: bytes, tracker: str = "jira") -> Event:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedDelivery(f"body is not JSON: {exc}") from None
    return parse_delivery(payload, tracker=tracker)


def actor_of(user: Any, where: str = "user") -> Actor:
    if not isinstance(user, Mapping):
        return Actor(None)
    account_type = user.get("accountType")
    if account_type == "customer":
        role = Role.CUSTOMER
    elif account_type in ("atlassian", "app"):
        role = Role.AGENT
    else:  # Data Center carries no account type: group membership decides
        role = Role.UNKNOWN
    ident = (
        _text(user.get("accountId"), f"{where}.accountId")
        or _text(user.get("name"), f"{where}.name")
        or _text(user.get("key"), f"{where}.key")
    )
    return Actor(ident, _text(user.get("displayName"), f"{where}.displayName"), role)


def request_type_of(fields: Mapping[str, Any]) -> str | None:
    """The JSM request type, found by the shape of its field: its id differs per site."""
    for value in fields.values():
        if isinstance(value, Mapping):
            request_type = value.get("requestType")
            if isinstance(request_type, Mapping) and isinstance(request_type.get("name"), str):
                return _text(request_type["name"], "requestType.name")
    return None


def comment_text(body: Any) -> str:
    """Plain text of a comment body: a string (v2, webhooks) or an ADF document (v3).

    The document is walked with a stack of its own, not by recursion: a signed delivery may
    nest it as deep as it likes, and it is refused past `MAX_COMMENT_DEPTH`.
    """
    parts: list[str] = []
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            parts.append(node)
        elif not isinstance(node, Mapping):
            continue
        elif node.get("type") == "text":
            text = node.get("text")
            parts.append(text if isinstance(text, str) else "")
        elif isinstance(node.get("content"), list):
            if depth >= MAX_COMMENT_DEPTH:
                raise MalformedDelivery(f"'comment.body' is nested deeper than {MAX_COMMENT_DEPTH} levels")
            stack.extend((child, depth + 1) for child in reversed(node["content"]))
    return "".join(parts).replace("\x00", "")


def _status_item(changelog: Any) -> Mapping[str, Any] | None:
    if changelog is None:
        return None
    if not isinstance(changelog, Mapping):
        raise MalformedDelivery("'changelog' is not an object")
    items = changelog.get("items")
    if items is None:
        return None
    if not isinstance(items, list):
        raise MalformedDelivery("'changelog.items' is not a list")
    for item in items:
        if isinstance(item, Mapping) and (item.get("fieldId") or item.get("field")) == "status":
            return item
    return None


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def _text(value: Any, where: str, limit: int = NAME_LENGTH) -> str | None:
    """A text of the delivery as the event carries it: numbers (ids) as their digits, NUL
    dropped (PostgreSQL cannot store it), cut to `limit`. Another type is not Jira's shape."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.replace("\x00", "")[:limit]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 2**64:
        return str(value)[:limit]
    raise MalformedDelivery(f"'{where}' is not text")


def _digits(value: Any) -> str | None:
    """A Jira id (digits, as text or a number), or None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**20:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return value
    return None


def _at(timestamp: Any) -> datetime | None:
    """The delivery's `timestamp` (milliseconds since the epoch) as a time, if it is one."""
    if not isinstance(timestamp, (int, float)) or isinstance(timestamp, bool):
        return None
    try:
        return datetime.fromtimestamp(timestamp / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def completed(event: Event, issue: Any) -> Event:
    """`event` completed from the issue the REST API answered with (by id, for an event that
    named its ticket by id alone)."""
    key = _get(issue, "key")
    if not isinstance(key, str) or len(key) > KEY_LENGTH or not ISSUE_KEY.fullmatch(key):
        raise MalformedDelivery("'key' is not a Jira issue key")
    fields = _get(issue, "fields") or {}
    if not isinstance(fields, Mapping):
        raise MalformedDelivery("'fields' is not an object")
    status = _text(_get(fields.get("status"), "name"), "fields.status.name")
    return replace(
        event,
        ticket=key,
        project=_text(_get(fields.get("project"), "key"), "fields.project.key"),
        issue_type=_text(_get(fields.get("issuetype"), "name"), "fields.issuetype.name"),
        request_type=request_type_of(fields),
        to_status=event.to_status or status,
        snapshot=Ticket(key, status or "", dict(fields), transitions=None),
    )


def listed_comment(found: Any) -> Comment | None:
    """A comment as the REST API lists it; None for one that cannot be read (no time)."""
    author = _get(found, "author")
    by = frozenset(str(author[k]) for k in ("accountId", "name", "key") if _get(author, k))
    try:
        created = datetime.fromisoformat(_get(found, "created"))
        text = comment_text(_get(found, "body"))
    except (TypeError, ValueError):  # MalformedDelivery is a ValueError
        return None
    return Comment(by, created, text) if created.tzinfo is not None else None


def webhook_of(found: Found, change: StatusChange) -> dict[str, Any]:
    """A status change found in a ticket's history, as the `jira:issue_updated` delivery Jira
    would have sent for it: the same changelog id, actor and time, and the ticket's fields,
    so that it is judged exactly as that delivery would have been."""
    actor = change.actor
    user: dict[str, Any] = {"displayName": actor.name}
    if actor.role is Role.UNKNOWN:  # Data Center: by name; group membership decides
        user["name"] = actor.id
    else:
        user["accountId"] = actor.id
        user["accountType"] = "customer" if actor.role is Role.CUSTOMER else "atlassian"
    return {
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "timestamp": int(change.at.timestamp() * 1000),
        "user": user,
        "issue": {"key": found.ticket.key, "fields": found.ticket.fields},
        "changelog": {
            "id": change.id,
            "items": [{"field": "status", "fieldtype": "jira", "fieldId": "status",
                       "fromString": change.from_status, "toString": change.to_status}],
        },
    }

"""Redmine's deliveries as the core's events, from three sources:

- the redmine_webhook plugin (github.com/suer/redmine_webhook): `{"payload": {"action":
  "opened" | "updated", "issue": {…}, "journal": {…}, "url": …}}`, the issue as its
  `IssueWrapper` writes it (`parent_id`, `custom_field_values`, the author with `login`,
  `firstname`, `lastname`, `mail`), the journal as `JournalWrapper` (`id`, `notes`,
  `private_notes`, `author`, `details: [{property, prop_key, old_value, value}]`);
- Redmine's own webhooks (Redmine 7, redmine.org feature #29664): `{"type":
  "issue.updated", "timestamp": …, "data": {"issue": <the REST issue>, "journal": {id,
  created_on, notes, user: {id, name}, details: [{property, prop_key, old_value, value}]}}}`
  (app/models/webhook_payload.rb). Its journal does not say whether its notes are private;
- polling: a change found in an issue's journals, written by `webhook_of` in the plugin's
  shape, with the status names beside their ids (`old_name`, `new_name`: the plugin never
  sends them), so that it reads back as the same change wherever it is parsed.

A journal is a change: one that changed `status_id` is a status change (its notes the
comment made with it), one with notes a comment, any other an update; its id is the change
id, the same in every source and in the issue's history. A journal names statuses by id, so
parsing needs the statuses (`Statuses`); where one is unknown the event names its ticket by
id only, and the adapter's `resolve` reads the statuses again before it is judged. Pure and
total: any JSON object becomes an event or raises `MalformedDelivery` saying why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson

from bridge.engine import Actor, Event, Found, Kind, StatusChange, Ticket
from bridge.engine.model import KEY_LENGTH
from bridge.trackers.base import MalformedDelivery
from bridge.trackers.redmine_issues import (
    Statuses,
    actor_of,
    added_attachments,
    details_of,
    detail_new,
    digits,
    fields_of,
    get,
    issue_key,
    maybe_time,
    parent_of,
    status_detail,
    status_name,
    text,
    with_role,
)

PLUGIN_ACTIONS = {"opened": "created", "updated": "updated"}
NATIVE_ISSUE = "issue."
NOTES_LENGTH = 100_000


def envelope_problem(payload: Any) -> str | None:
    """Why a parsed body is not a Redmine delivery at all, or None; cheap enough for the
    intake to answer 422 before storing. An issue's delivery names the issue by its id."""
    if not isinstance(payload, Mapping):
        return "not a Redmine webhook delivery: not a JSON object"
    if "payload" in payload:
        inner = payload["payload"]
        if not isinstance(get(inner, "action"), str):
            return "redmine_webhook delivery: 'payload.action' is missing"
        if digits(get(get(inner, "issue"), "id")) is None:
            return "redmine_webhook delivery: 'payload.issue.id' is missing"
        return None
    kind = payload.get("type")
    if isinstance(kind, str) and isinstance(payload.get("data"), Mapping):
        if kind.startswith(NATIVE_ISSUE) and digits(get(payload["data"].get("issue"), "id")) is None:
            return f"{kind[:KEY_LENGTH]}: 'data.issue.id' is missing"
        return None
    return ("not a Redmine webhook delivery: neither 'payload' (the redmine_webhook plugin) "
            "nor 'type' and 'data' (Redmine's webhooks)")


def parse_body(body: bytes, *, tracker: str = "redmine", statuses: Statuses | None = None) -> Event:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedDelivery(f"body is not JSON: {exc}") from None
    return parse_delivery(payload, tracker=tracker, statuses=statuses or Statuses())


def parse_delivery(
    payload: Any, *, tracker: str = "redmine", statuses: Statuses | None = None, final: bool = False
) -> Event:
    """The event a delivery describes. `final`: the statuses were just read again, so a
    status id they do not hold no longer exists: the change is recorded, not judged."""
    problem = envelope_problem(payload)
    if problem is not None:
        raise MalformedDelivery(problem)
    statuses = statuses or Statuses()
    if "payload" in payload:
        inner = payload["payload"]
        action = inner["action"]
        what = PLUGIN_ACTIONS.get(action, "other")
        raw = text(f"redmine_webhook:{action}", KEY_LENGTH)
        return _issue_event(inner["issue"], inner.get("journal"), what, raw, None, tracker, statuses, final)
    kind, data = payload["type"], payload["data"]
    raw = text(kind, KEY_LENGTH)
    at = maybe_time(payload.get("timestamp"))
    if not kind.startswith(NATIVE_ISSUE):
        return _no_ticket(kind, data, raw, at, tracker)
    what = {"issue.created": "created", "issue.updated": "updated"}.get(kind, "other")
    return _issue_event(data["issue"], data.get("journal"), what, raw, at, tracker, statuses, final)


def _issue_event(
    issue: Any, journal: Any, what: str, raw: str | None, at: datetime | None, tracker: str,
    statuses: Statuses, final: bool,
) -> Event:
    key = issue_key(issue)
    status = status_name(issue)
    event = Event(
        tracker=tracker,
        kind=Kind.OTHER,
        ticket=key,
        actor=Actor(None),
        project=text(get(issue.get("project"), "name")),
        issue_type=text(get(issue.get("tracker"), "name")),
        to_status=status,
        raw_event=raw,
        snapshot=Ticket(key, status or "", fields_of(issue), transitions=None, parent=parent_of(issue)),
        ticket_id=key,
        at=at,
    )
    if what == "created":
        author = with_role(actor_of(issue.get("author")), issue)
        return replace(event, kind=Kind.CREATED, actor=author, at=maybe_time(issue.get("created_on")) or at)
    if what != "updated" or not isinstance(journal, Mapping):
        return event if what != "updated" else replace(event, kind=Kind.UPDATED)
    return _journal_event(event, issue, journal, statuses, final)


def _journal_event(event: Event, issue: Mapping[str, Any], journal: Mapping[str, Any],
                   statuses: Statuses, final: bool) -> Event:
    details = details_of(journal)
    user = journal.get("author") if "author" in journal else journal.get("user")
    notes = text(journal.get("notes"), NOTES_LENGTH)
    private = journal.get("private_notes")
    event = replace(
        event,
        kind=Kind.COMMENTED if notes and notes.strip() else Kind.UPDATED,
        actor=with_role(actor_of(user), issue),
        comment=notes if notes and notes.strip() else None,
        public=(not private) if isinstance(private, bool) else None,
        at=maybe_time(journal.get("created_on")) or event.at,
        change_id=digits(journal.get("id")),
        attached=added_attachments(details),
    )
    detail = status_detail(details)
    if detail is None:
        return event
    current = digits(get(issue.get("status"), "id"))
    ids = {"old": digits(detail.get("old_value")), "new": digits(detail_new(detail))}
    names = {
        side: text(detail.get(f"{side}_name")) or statuses.name(ident)
        or (event.to_status if ident is not None and ident == current else None)
        for side, ident in ids.items()
    }
    missing = [ids[s] or "?" for s in ("old", "new") if names[s] is None and (s == "new" or ids[s])]
    if missing and not final:  # the statuses are read again before it is judged
        return replace(event, kind=Kind.STATUS_CHANGED, ticket=None, to_status=None)
    if missing:
        gone = ", ".join(f"#{m}" for m in missing)
        return replace(event, kind=Kind.UPDATED, raw_event=text(f"{event.raw_event}: status {gone} is gone", KEY_LENGTH))
    return replace(event, kind=Kind.STATUS_CHANGED, from_status=names["old"], to_status=names["new"])


def _no_ticket(kind: str, data: Mapping[str, Any], raw: str | None, at: datetime | None, tracker: str) -> Event:
    """Wiki pages, news, versions, time entries: about no one ticket. A time entry names
    its issue by id, which the event keeps."""
    entry = data.get("time_entry")
    return Event(
        tracker=tracker,
        kind=Kind.NO_TICKET,
        ticket=None,
        actor=actor_of(get(entry, "user")),
        raw_event=raw,
        ticket_id=digits(get(get(entry, "issue"), "id")),
        at=at,
    )


def delivery_id(headers: Mapping[str, str], payload: Any) -> str | None:
    """What tells a delivery apart, read from its body (neither source names deliveries in
    a header): the journal's id, the same in the plugin's and in Redmine's deliveries of a
    change, so a resend (or the other source) dedupes; a creation by the issue's id and
    time. None (the body's digest is used) for anything else."""
    if not isinstance(payload, Mapping):
        return None
    inner = payload.get("payload") if "payload" in payload else payload.get("data")
    issue, journal = get(inner, "issue"), get(inner, "journal")
    journal_id, issue_id = digits(get(journal, "id")), digits(get(issue, "id"))
    if journal_id is not None:
        return f"redmine-journal-{journal_id}"
    if issue_id is None:
        return None
    what = get(inner, "action") if "payload" in payload else payload.get("type")
    if what in ("opened", "issue.created"):
        created = maybe_time(get(issue, "created_on"))
        if created is not None:
            return f"redmine-issue-{issue_id}-created-{created.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return None


def webhook_of(found: Found, change: StatusChange, statuses: Statuses) -> dict[str, Any]:
    """A status change found in an issue's journals, as the plugin's delivery of it: the
    same journal id, actor and time, the issue as the search found it, and the statuses'
    names beside their ids."""
    actor = change.actor
    user_id: int | str | None = int(actor.id) if digits(actor.id) else actor.id
    journal_id: int | str = int(change.id) if digits(change.id) else change.id
    detail = {
        "property": "attr",
        "prop_key": "status_id",
        "old_value": statuses.id_of(change.from_status),
        "value": statuses.id_of(change.to_status),
        "old_name": change.from_status,
        "new_name": change.to_status,
    }
    return {
        "payload": {
            "action": "updated",
            "issue": dict(found.ticket.fields),
            "journal": {
                "id": journal_id,
                "notes": "",
                "created_on": change.at.isoformat(),
                "private_notes": False,
                "author": {"id": user_id, "firstname": actor.name or "", "lastname": ""},
                "details": [detail],
            },
            "url": "",
        }
    }

"""Redmine's issues, journals and time entries as the core's values.

An issue becomes a `Ticket`: its status by name, the statuses the bridge's account may move
it to as transitions, its sub-tasks and parent, and its attributes as `fields`. A journal
that changed the status becomes a `StatusChange`, one with notes a `Comment`, a time entry a
`Worklog`. Pure and total, like `redmine_parsing`, which reads deliveries through these: an
answer not shaped like Redmine's raises `MalformedDelivery` naming what is wrong, and the
adapter refuses it naming the call that answered it; texts are bounded and free of NUL.

Statuses are named by id in journals (`{"property": "attr", "name": "status_id",
"old_value": "12", "new_value": "16"}`) while workflows name them by name: `Statuses`, read
from `GET /issue_statuses.json`, names them.

Custom fields (`custom_fields: [{"id": 1, "name": "PBI", "value": "4711"}]`) are put in
`Ticket.fields` twice, under their name ("PBI") and under `cf_<id>` ("cf_1", the name
Redmine's own queries give them), so a workflow may name either. One whose name is taken by
an attribute of the issue itself (`status`, `subject`…) is found by `cf_<id>` only.
Attachments are listed under `attachment` in the shape the attachment policy reads (`id`,
`filename`, `size`, `author`).

Easy Project's HelpDesk (Easy Redmine) makes issues from e-mails. Its mail handler
(`EasyHelpdeskMailHandler#callback_receive_issue_before_save`) sets
`easy_helpdesk_mailbox_username`, the mailbox the e-mail came to, on the issues it creates
and on no other; `EasyIssueMailHandler` puts the sender's and the copied addresses in
`easy_email_to` / `easy_email_cc`, where HelpDesk's answers go, and the sender becomes the
issue's author. So an issue with a mailbox came by e-mail (`channel` "email"), and its author
is the customer who wrote it, member of the project or not (`helpdesk_requester`). Sources:
Easy's plugin code as publicly stored (see tests/fixtures/redmine/SOURCES.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from bridge.engine import Actor, Comment, Found, Role, StatusChange, TaskRef, Ticket, Transition, Worklog
from bridge.engine.model import NAME_LENGTH, WorkedTicket
from bridge.trackers.base import MalformedDelivery, aware_time

ID_DIGITS = 20  # longer than any id Redmine's integer columns hold
STATUS_DETAIL = "status_id"
ATTACHMENT_FIELD = "attachment"
# Helpdesk tickets of Easy Project / Easy Redmine: the mailbox an e-mailed request came to
# (set only on issues HelpDesk created from an e-mail), and the customer's address.
HELPDESK_MAILBOX = "easy_helpdesk_mailbox_username"
HELPDESK_EMAIL_TO = "easy_email_to"
# Redmine records the day work was spent on, not when: noon UTC of that day is the same
# date everywhere from UTC-11 to UTC+11, so a billing period counts it on the day Redmine shows.
SPENT_AT = time(12, 0, tzinfo=UTC)
BULKY = ("journals", "allowed_statuses", "children", "relations", "watchers", "changesets")


@dataclass(frozen=True)
class Status:
    id: str
    name: str
    closed: bool = False


class Statuses:
    """Redmine's issue statuses, by id and by name (names compared without regard to case)."""

    def __init__(self, listed: Iterable[Status] = ()) -> None:
        self.by_id = {s.id: s for s in listed}
        self.by_name = {s.name.casefold(): s for s in self.by_id.values()}

    def name(self, ident: str | None) -> str | None:
        found = self.by_id.get(ident) if ident is not None else None
        return found.name if found else None

    def id_of(self, name: str | None) -> str | None:
        found = self.by_name.get(name.casefold()) if name is not None else None
        return found.id if found else None

    def __len__(self) -> int:
        return len(self.by_id)


def statuses_of(answer: Any) -> Statuses:
    """The statuses `GET /issue_statuses.json` lists."""
    listed = get(answer, "issue_statuses")
    if not isinstance(listed, list):
        raise MalformedDelivery("'issue_statuses' is not a list")
    found = []
    for entry in listed:
        ident, name = digits(get(entry, "id")), text(get(entry, "name"))
        if ident is None or not name:
            raise MalformedDelivery("a status has no 'id' or 'name'")
        found.append(Status(ident, name, get(entry, "is_closed") is True))
    return Statuses(found)


# -- values ----------------------------------------------------------------------------------
def get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def text(value: Any, limit: int = NAME_LENGTH) -> str | None:
    """A text as the core keeps it: NUL dropped, cut to `limit`; None for anything else."""
    return value.replace("\x00", "")[:limit] if isinstance(value, str) else None


def digits(value: Any) -> str | None:
    """A Redmine id (digits, as a number or text), or None for anything else."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**ID_DIGITS:
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= ID_DIGITS:
        return value
    return None


redmine_time = aware_time  # as it writes them


def maybe_time(value: Any) -> datetime | None:
    try:
        return redmine_time(value, "")
    except MalformedDelivery:
        return None


def issue_key(issue: Any, where: str = "issue") -> str:
    """The issue's id, its key in the bridge: digits only, as it goes into REST paths."""
    if not isinstance(issue, Mapping):
        raise MalformedDelivery(f"'{where}' is not an object")
    key = digits(issue.get("id"))
    if key is None:
        raise MalformedDelivery(f"'{where}.id' is not a Redmine issue id: {str(issue.get('id'))[:40]!r}")
    return key


def actor_of(user: Any) -> Actor:
    """Who a user is: `{id, name}` in REST answers and Redmine's webhooks, `{id, login,
    firstname, lastname}` in the redmine_webhook plugin's."""
    ident = digits(get(user, "id"))
    name = text(get(user, "name"))
    if name is None and isinstance(user, Mapping):
        parts = [p for p in (text(user.get("firstname")), text(user.get("lastname"))) if p]
        name = " ".join(parts)[:NAME_LENGTH] or text(user.get("login"))
    return Actor(ident, name or None)


def helpdesk_requester(issue: Any) -> str | None:
    """The id of the author of a ticket Easy HelpDesk made from an e-mail (None for any other
    ticket): HelpDesk sets `easy_helpdesk_mailbox_username` only on those, and makes the
    sender their author."""
    mailbox = get(issue, HELPDESK_MAILBOX)
    if not isinstance(mailbox, str) or not mailbox.strip():
        return None
    return digits(get(get(issue, "author"), "id"))


def with_role(actor: Actor, issue: Any) -> Actor:
    """`actor`, a customer where the issue says so: the requester of a HelpDesk ticket."""
    if actor.id is not None and actor.id == helpdesk_requester(issue):
        return Actor(actor.id, actor.name, Role.CUSTOMER)
    return actor


# -- journals --------------------------------------------------------------------------------
def detail_key(detail: Any) -> Any:
    """A detail's attribute: `name` in REST answers, `prop_key` in webhooks."""
    return get(detail, "name") if "name" in detail else get(detail, "prop_key")


def detail_new(detail: Mapping[str, Any]) -> Any:
    """A detail's new value: `new_value` in REST answers, `value` in webhooks."""
    return detail.get("new_value") if "new_value" in detail else detail.get("value")


def details_of(journal: Any, where: str = "journal") -> list[Mapping[str, Any]]:
    details = get(journal, "details")
    if details is None:
        return []
    if not isinstance(details, list):
        raise MalformedDelivery(f"'{where}.details' is not a list")
    return [d for d in details if isinstance(d, Mapping)]


def status_detail(details: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    for detail in details:
        if get(detail, "property") == "attr" and detail_key(detail) == STATUS_DETAIL:
            return detail
    return None


def added_attachments(details: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The ids of the attachments a journal added (`property: attachment`, the id in the key,
    the file name as the new value; a removed one has only an old value)."""
    added = []
    for detail in details:
        ident = digits(detail_key(detail))
        if get(detail, "property") == "attachment" and ident is not None and detail_new(detail) is not None:
            added.append(ident)
    return tuple(dict.fromkeys(added))[:100]


def journals_of(issue: Any, where: str) -> list[Mapping[str, Any]]:
    journals = get(issue, "journals")
    if not isinstance(journals, list):
        raise MalformedDelivery(f"'{where}.journals' is not a list")
    return [j for j in journals if isinstance(j, Mapping)]


def status_ids(issue: Any) -> set[str]:
    """Every status id the issue's journals name."""
    found: set[str] = set()
    journals = get(issue, "journals")
    for journal in journals if isinstance(journals, list) else ():
        details = get(journal, "details")
        detail = status_detail(d for d in details if isinstance(d, Mapping)) if isinstance(details, list) else None
        if detail is not None:
            found |= {i for i in (digits(detail.get("old_value")), digits(detail_new(detail))) if i}
    return found


def history_of(issue: Any, statuses: Statuses, where: str = "issue") -> tuple[StatusChange, ...]:
    """The issue's status changes, oldest first. A status that no longer exists is named
    by its id (`#17`), which no workflow declares."""
    changes = []
    for journal in journals_of(issue, where):
        detail = status_detail(details_of(journal, f"{where}.journals"))
        ident = digits(journal.get("id"))
        if detail is None or ident is None:
            continue
        old, new = digits(detail.get("old_value")), digits(detail_new(detail))
        if new is None:
            continue
        changes.append(StatusChange(
            id=ident,
            at=redmine_time(journal.get("created_on"), f"{where}.journals.created_on"),
            actor=with_role(actor_of(journal.get("user")), issue),
            from_status=(statuses.name(old) or f"#{old}") if old else None,
            to_status=statuses.name(new) or f"#{new}",
        ))
    return tuple(sorted(changes, key=lambda c: (c.at, int(c.id))))


@dataclass(frozen=True)
class RedmineComment(Comment):
    """A journal's notes; `public` False for private notes, which customers do not see."""

    public: bool | None = None


def comments_of(issue: Any, most: int = 50) -> tuple[Comment, ...]:
    """The issue's newest journals with notes, newest last."""
    found: list[Comment] = []
    for journal in journals_of(issue, "issue"):
        notes = text(journal.get("notes"), 100_000)
        created = maybe_time(journal.get("created_on"))
        if not notes or not notes.strip() or created is None:
            continue
        by = frozenset({i for i in (digits(get(journal.get("user"), "id")),) if i})
        private = journal.get("private_notes")
        found.append(RedmineComment(by, created, notes, None if not isinstance(private, bool) else not private))
    return tuple(found[-most:])


# -- issues ----------------------------------------------------------------------------------
def fields_of(issue: Mapping[str, Any]) -> dict[str, Any]:
    """The issue's attributes, with its custom fields by name and by `cf_<id>` and its
    attachments under `attachment`; lists read for other purposes (journals) left out."""
    fields = {k: v for k, v in issue.items() if k not in BULKY}
    custom = issue.get("custom_fields")
    if not isinstance(custom, list):
        custom = issue.get("custom_field_values")  # the redmine_webhook plugin's name
    for entry in custom if isinstance(custom, list) else ():
        ident = digits(get(entry, "id") if get(entry, "id") is not None else get(entry, "custom_field_id"))
        name = text(get(entry, "name") or get(entry, "custom_field_name"))
        value = get(entry, "value")
        if ident is not None:
            fields[f"cf_{ident}"] = value
        if name and name not in issue:
            fields[name] = value
    attachments = issue.get("attachments")
    if isinstance(attachments, list):
        fields[ATTACHMENT_FIELD] = [_attachment(a) for a in attachments]
    return fields


def _attachment(entry: Any) -> dict[str, Any]:
    author = actor_of(get(entry, "author"))
    return {
        "id": digits(get(entry, "id")),
        "filename": text(get(entry, "filename")),
        "size": get(entry, "filesize"),
        "content_type": text(get(entry, "content_type")),
        "author": {"key": author.id, "displayName": author.name},
    }


def status_name(issue: Any) -> str | None:
    return text(get(get(issue, "status"), "name"))


def parent_of(issue: Mapping[str, Any]) -> TaskRef | None:
    """The parent an issue names: `parent: {id}` in REST answers, `parent_id` in the plugin's."""
    ident = digits(get(issue.get("parent"), "id")) or digits(issue.get("parent_id"))
    return TaskRef(ident) if ident else None


def transitions_of(issue: Mapping[str, Any], statuses: Statuses) -> tuple[Transition, ...]:
    """Where the bridge's account may move the issue: `allowed_statuses` (Redmine 5.0 on,
    asked with `include=allowed_statuses`); an older Redmine does not answer it, and every
    status is offered (Redmine refuses, or keeps the status, where its workflow does not let)."""
    current = digits(get(issue.get("status"), "id"))
    allowed = issue.get("allowed_statuses")
    if isinstance(allowed, list):
        listed = [(digits(get(s, "id")), text(get(s, "name"))) for s in allowed]
    else:
        listed = [(s.id, s.name) for s in statuses.by_id.values()]
    return tuple(Transition(i, n, n) for i, n in listed if i and n and i != current)


def subtasks_of(issue: Mapping[str, Any], children: Mapping[str, Any], statuses: Statuses) -> tuple[TaskRef, ...]:
    """The issue's sub-tasks (`children`, which name no status) with the statuses `children`
    holds, an answer of `GET /issues.json?parent_id=`, by id. Done: a closed status."""
    found = []
    listed = issue.get("children")
    for child in listed if isinstance(listed, list) else ():
        ident = digits(get(child, "id"))
        if ident is None:
            continue
        status = get(children.get(ident), "status")
        name = text(get(status, "name")) or ""
        closed = get(status, "is_closed")
        if not isinstance(closed, bool):  # before Redmine 5.0 a listed status says nothing of it
            known = statuses.by_id.get(digits(get(status, "id")) or "")
            closed = bool(known and known.closed)
        found.append(TaskRef(ident, text(get(child, "subject")) or "", name, closed,
                             text(get(get(child, "tracker"), "name"))))
    return tuple(found)


def ticket_of(
    issue: Any, statuses: Statuses, children: Mapping[str, Any] | None = None, where: str = "issue"
) -> Ticket:
    """The ticket an issue answer shows; `children`: its sub-tasks' issues by id, where read."""
    key = issue_key(issue, where)
    return Ticket(
        key,
        status_name(issue) or "",
        fields_of(issue),
        transitions_of(issue, statuses),
        subtasks=subtasks_of(issue, children, statuses) if children is not None else None,
        parent=parent_of(issue),
    )


def found_of(issue: Any, where: str = "issues") -> Found:
    """A ticket of a search answer, as it is now (transitions not read)."""
    key = issue_key(issue, where)
    updated = issue.get("updated_on")
    return Found(
        ticket=Ticket(key, status_name(issue) or "", fields_of(issue), transitions=None, parent=parent_of(issue)),
        project=text(get(issue.get("project"), "name")),
        issue_type=text(get(issue.get("tracker"), "name")),
        request_type=None,
        updated=None if updated is None else redmine_time(updated, f"{where}: issue {key} updated_on"),
    )


# -- time entries ----------------------------------------------------------------------------
def worklog_of(entry: Any, where: str = "time_entries") -> Worklog:
    """A time entry: its id, who spent it, the day (at noon UTC, see SPENT_AT), its hours
    as seconds. One without them is not billed short: it is refused."""
    ident = digits(get(entry, "id"))
    if ident is None:
        raise MalformedDelivery(f"a time entry of '{where}' has no 'id'")
    hours = get(entry, "hours")
    if not isinstance(hours, (int, float)) or isinstance(hours, bool) or not 0 <= hours < 10**6:
        raise MalformedDelivery(f"'{where}.hours' of time entry {ident} is not a number of hours")
    try:
        day = date.fromisoformat(get(entry, "spent_on"))
    except (TypeError, ValueError):
        raise MalformedDelivery(f"'{where}.spent_on' of time entry {ident} is not a day") from None
    return Worklog(
        id=ident,
        author=actor_of(get(entry, "user")).name or "",
        started=datetime.combine(day, SPENT_AT),
        seconds=round(hours * 3600),
        comment=text(get(entry, "comments"), 10_000) or "",
    )


def worked_ticket(found: Found, worklogs: Iterable[Worklog]) -> WorkedTicket:
    """A searched ticket with its history as billing reads it. Redmine has no organisations:
    the ticket's project stands for the customer (one project per customer is the usual
    Redmine setup)."""
    fields = found.ticket.fields
    return WorkedTicket(
        key=found.ticket.key,
        summary=text(fields.get("subject"), 1000) or "",
        issue_type=found.issue_type or "",
        organization=found.project or "",
        reporter=actor_of(fields.get("author")).name or "",
        status=found.ticket.status,
        history=found.history or (),
        worklogs=tuple({w.id: w for w in worklogs}.values()),
        project=found.project,
    )

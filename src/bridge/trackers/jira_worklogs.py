"""Jira's worklogs and the fields billing reads, as the core's `Worklog` and `WorkedTicket`.

Finance bills from worklogs, so a worklog is taken only whole: its id, when it started (with
the offset Jira wrote, which says the worker's own day) and its seconds. An answer without
them is not Jira's shape and raises `MalformedDelivery`; the tracker refuses it naming the
call, rather than bill a ticket short. `timeSpent` ("1w 2d") is never read: what a day or a
week is depends on the site's time tracking settings, which the bridge does not know.

The customer's organisation comes from Jira Service Management's organisations field, whose
id differs per site and is found in `GET /field` by its type; a ticket in none of them is
the reporter's e-mail domain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bridge.engine import Found, WorkedTicket, Worklog
from bridge.engine.model import KEY_LENGTH, NAME_LENGTH
from bridge.trackers.base import MalformedDelivery
from bridge.trackers.jira_changelog import jira_time
from bridge.trackers.jira_parsing import comment_text

ORGANIZATIONS_TYPE = "com.atlassian.servicedesk:sd-customer-organizations"


def organizations_field(fields: Any) -> str | None:
    """The id of the site's organisations field in a `GET /field` answer (None: it has
    none, as a site without Jira Service Management)."""
    if not isinstance(fields, list):
        raise MalformedDelivery("the fields are not a list")
    for field in fields:
        if not isinstance(field, Mapping):
            raise MalformedDelivery("a field is not an object")
        schema = field.get("schema")
        if isinstance(schema, Mapping) and schema.get("custom") == ORGANIZATIONS_TYPE:
            ident = field.get("id")
            if not isinstance(ident, str) or not ident:
                raise MalformedDelivery("the organisations field has no 'id'")
            return ident
    return None


def worklog_of(entry: Any, where: str = "worklog") -> Worklog:
    """One worklog as Jira lists it: the comment is plain text (REST v2) or a document (v3)."""
    if not isinstance(entry, Mapping):
        raise MalformedDelivery(f"'{where}' is not an object")
    ident = entry.get("id")
    if isinstance(ident, int) and not isinstance(ident, bool) and ident >= 0:
        ident = str(ident)
    if not isinstance(ident, str) or not ident or len(ident) > KEY_LENGTH:
        raise MalformedDelivery(f"'{where}.id' is missing")
    seconds = entry.get("timeSpentSeconds")
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
        raise MalformedDelivery(f"'{where}.timeSpentSeconds' of worklog {ident} is not a number of seconds")
    comment = entry.get("comment")
    return Worklog(
        id=ident,
        author=user_name(entry.get("author"), f"{where}.author"),
        started=jira_time(entry.get("started"), f"{where}.started"),
        seconds=seconds,
        comment="" if comment is None else comment_text(comment),
    )


def worklog_page(page: Any, where: str = "worklog") -> tuple[list[Worklog], int]:
    """The worklogs of one page (`{startAt, maxResults, total, worklogs}`) and how many the
    ticket has in all."""
    if not isinstance(page, Mapping):
        raise MalformedDelivery(f"'{where}' is not an object")
    listed, total = page.get("worklogs"), page.get("total")
    if not isinstance(listed, list):
        raise MalformedDelivery(f"'{where}.worklogs' is not a list")
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise MalformedDelivery(f"'{where}.total' is not a count")
    return [worklog_of(entry, f"{where}.worklogs") for entry in listed], total


def searched_worklogs(fields: Mapping[str, Any], key: str) -> tuple[Worklog, ...] | None:
    """The worklogs a search answer holds for a ticket, or None where it does not hold all of
    them: Jira puts at most 20 into `fields.worklog` and says how many there are in `total`."""
    value = fields.get("worklog")
    if value is None:
        return None
    if isinstance(value, Mapping) and value.get("startAt", 0) != 0:
        return None
    listed, total = worklog_page(value, f"{key}: fields.worklog")
    return tuple(listed) if total <= len(listed) else None


def unique(worklogs: Iterable[Worklog]) -> tuple[Worklog, ...]:
    """Each worklog once, where first listed, as last read: pages read while someone logs or
    deletes time shift under the reader and may list one twice."""
    return tuple({worklog.id: worklog for worklog in worklogs}.values())


def worked_ticket(found: Found, worklogs: Iterable[Worklog], organizations: str | None) -> WorkedTicket:
    """A searched ticket (with its history) as billing reads it; `organizations` is the id of
    the site's organisations field, None where it has none."""
    key, fields = found.ticket.key, found.ticket.fields
    summary = fields.get("summary")
    if summary is not None and not isinstance(summary, str):
        raise MalformedDelivery(f"{key}: 'fields.summary' is not text")
    reporter = fields.get("reporter")
    return WorkedTicket(
        key=key,
        summary=(summary or "").replace("\x00", ""),
        issue_type=found.issue_type or "",
        organization=_organizations(fields, organizations, key) or _domain(reporter),
        reporter=user_name(reporter, f"{key}: fields.reporter"),
        status=found.ticket.status,
        history=found.history or (),
        worklogs=unique(worklogs),
        project=found.project,
        request_type=found.request_type,
    )


def user_name(user: Any, where: str) -> str:
    """Who a user is to a reader: the display name, else the name (Data Center) or the
    account id (Cloud); "" for none (an anonymous reporter, a deleted account)."""
    if user is None:
        return ""
    if not isinstance(user, Mapping):
        raise MalformedDelivery(f"'{where}' is not a user")
    for name in ("displayName", "name", "accountId"):
        value = user.get(name)
        if isinstance(value, str) and value:
            return value.replace("\x00", "")[:NAME_LENGTH]
    return ""


def _organizations(fields: Mapping[str, Any], field: str | None, key: str) -> str:
    """The names of the ticket's organisations, joined by ", "; "" for none."""
    value = fields.get(field) if field else None
    if value is None:
        return ""
    where = f"{key}: fields.{field}"
    if not isinstance(value, list):
        raise MalformedDelivery(f"'{where}' is not a list of organisations")
    names = []
    for organization in value:
        name = organization.get("name") if isinstance(organization, Mapping) else None
        if not isinstance(name, str):
            raise MalformedDelivery(f"an organisation of '{where}' has no name")
        names.append(name.replace("\x00", ""))
    return ", ".join(names)


def _domain(reporter: Any) -> str:
    """The reporter's e-mail domain; "" where Jira does not show the address (Cloud hides it
    by the user's privacy settings)."""
    address = reporter.get("emailAddress") if isinstance(reporter, Mapping) else None
    if not isinstance(address, str) or "@" not in address:
        return ""
    return address.rpartition("@")[2].strip().lower()[:NAME_LENGTH]

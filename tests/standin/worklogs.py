"""Time logged on the stand-in's tickets, shown as Jira shows it, and the site's fields.

Jira shows a ticket's worklogs two ways, each cut differently, and the stand-in does the same:

- `fields.worklog` of an issue (a GET, a search, a webhook) when `worklog` or `*all` is among
  the fields asked for: the oldest 20 only, with `total` saying how many there are;
- `GET /issue/{key}/worklog`: Cloud pages them (`startAt`, `maxResults` up to 5000), oldest
  first; Data Center's API documents no paging of it and lists them all.

A worklog's comment is plain text in REST v2 and a document in v3, where a worklog without a
comment has none. Logging, editing or deleting time updates the ticket, as in Jira.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .times import jira_time, now, parse_time

if TYPE_CHECKING:
    from .state import Issue, JiraStandin

FIELD_MOST = 20  # worklogs in `fields.worklog`
PAGE_MOST = 5000  # worklogs per page of Cloud's GET /issue/{key}/worklog
ORGANIZATIONS_TYPE = "com.atlassian.servicedesk:sd-customer-organizations"
# Jira's default time tracking: 8 hours a day, 5 days a week.
UNITS = (("w", 5 * 8 * 3600), ("d", 8 * 3600), ("h", 3600), ("m", 60))


@dataclass
class Worklog:
    id: str
    by: dict[str, Any]  # the user who logged it
    started: datetime
    seconds: int
    comment: str
    created: datetime
    updated: datetime


def seeded(standin: JiraStandin, entries: Any) -> list[Worklog]:
    """A seed's worklogs (`[{"started", "seconds", "by", "comment", "created", "id"}, …]`) in
    the order Jira lists them, by when they were logged (`created`: by default the end of the
    work). A seed Jira could not hold raises ValueError, which the control answers with a 400."""
    if not isinstance(entries, list):
        raise ValueError("worklogs must be a list of {started, seconds, by, comment}")
    worklogs = []
    for entry in entries:
        started, seconds = parse_time(entry["started"]), entry["seconds"]
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 60:
            raise ValueError(f"a worklog's seconds must be a whole number, at least 60: {seconds!r}")
        created = parse_time(entry["created"]) if entry.get("created") else started + timedelta(seconds=seconds)
        worklogs.append(Worklog(str(entry.get("id") or standin.next_id()), entry.get("by") or standin.account,
                                started, seconds, str(entry.get("comment") or ""), created, created))
    return sorted(worklogs, key=lambda w: w.created)


def add(standin: JiraStandin, issue: Issue, entries: Any) -> list[Worklog]:
    """Log time on `issue` (one worklog or a list), as someone does in Jira's UI."""
    made = seeded(standin, entries if isinstance(entries, list) else [entries])
    taken = {w.id for w in issue.worklogs} & {w.id for w in made}
    if taken:
        raise ValueError(f"worklog ids already on {issue.key}: {sorted(taken)}")
    issue.worklogs = sorted(issue.worklogs + made, key=lambda w: w.created)
    touch(standin, issue, max(w.created for w in made) if made else None)
    return made


def edit(standin: JiraStandin, issue: Issue, ident: str, data: dict[str, Any]) -> Worklog | None:
    """Change a worklog's seconds (and comment), at `at` (default now); None: no such worklog."""
    worklog = next((w for w in issue.worklogs if w.id == ident), None)
    if worklog is None:
        return None
    seconds = data["seconds"]
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 60:
        raise ValueError(f"a worklog's seconds must be a whole number, at least 60: {seconds!r}")
    worklog.seconds, worklog.updated = seconds, parse_time(data["at"]) if data.get("at") else now()
    worklog.comment = str(data.get("comment", worklog.comment))
    touch(standin, issue, worklog.updated)
    return worklog


def delete(standin: JiraStandin, issue: Issue, ident: str, at: datetime | None = None) -> bool:
    kept = [w for w in issue.worklogs if w.id != ident]
    if len(kept) == len(issue.worklogs):
        return False
    issue.worklogs = kept
    touch(standin, issue, at or now())
    return True


def touch(standin: JiraStandin, issue: Issue, at: datetime | None) -> None:
    """The ticket's `updated` moves on to `at`, never back."""
    if at is not None and at > parse_time(issue.fields["updated"]):
        issue.fields["updated"] = standin.time(at)
        standin.changed()


def time_spent(seconds: int) -> str:
    """Seconds as Jira words them: 144000 → "1w", 5400 → "1h 30m"."""
    parts = []
    for unit, size in UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0m"


def entry_json(standin: JiraStandin, issue: Issue, worklog: Worklog, base: str,
               version: str) -> dict[str, Any]:
    """One worklog as Jira shows it in REST `version`."""
    who = standin.user_json(worklog.by, base)
    body: dict[str, Any] = {
        "self": f"{base}/rest/api/{version}/issue/{issue.id}/worklog/{worklog.id}",
        "author": who, "updateAuthor": who, "created": jira_time(worklog.created, standin.zone),
        "updated": jira_time(worklog.updated, standin.zone),
        "started": jira_time(worklog.started, standin.zone), "timeSpent": time_spent(worklog.seconds),
        "timeSpentSeconds": worklog.seconds, "id": worklog.id, "issueId": issue.id,
    }
    if version == "2":
        body["comment"] = worklog.comment
    elif worklog.comment:
        body["comment"] = {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": line}]}
            for line in worklog.comment.splitlines() if line.strip()]}
    return body


def field_json(standin: JiraStandin, issue: Issue, base: str, version: str) -> dict[str, Any]:
    """`fields.worklog`: the oldest 20, and how many there are."""
    return {"startAt": 0, "maxResults": FIELD_MOST, "total": len(issue.worklogs),
            "worklogs": [entry_json(standin, issue, w, base, version) for w in issue.worklogs[:FIELD_MOST]]}


def page(standin: JiraStandin, issue: Issue, base: str, version: str, start: int,
         most: int) -> dict[str, Any]:
    """One page of `GET /issue/{key}/worklog`; Data Center lists every worklog at once."""
    if standin.deployment == "datacenter":
        start, most = 0, len(issue.worklogs)
    most = min(max(most, 0), PAGE_MOST)
    listed = issue.worklogs[start:start + most]
    return {"startAt": start, "maxResults": most, "total": len(issue.worklogs),
            "worklogs": [entry_json(standin, issue, w, base, version) for w in listed]}


def state_json(standin: JiraStandin, issue: Issue) -> list[dict[str, Any]]:
    """The worklogs as `GET /_standin/issues/KEY` shows them, for tests to read."""
    return [{"id": w.id, "by": w.by.get("accountId") or w.by.get("name"), "seconds": w.seconds,
             "started": jira_time(w.started, standin.zone), "comment": w.comment}
            for w in issue.worklogs]


# -- the site's fields -------------------------------------------------------------------------
SYSTEM_FIELDS = (("summary", "Summary", "string"), ("issuetype", "Issue Type", "issuetype"),
                 ("project", "Project", "project"), ("status", "Status", "status"),
                 ("reporter", "Reporter", "user"), ("assignee", "Assignee", "user"),
                 ("priority", "Priority", "priority"), ("created", "Created", "datetime"),
                 ("updated", "Updated", "datetime"), ("timespent", "Time Spent", "number"))


def fields_json(standin: JiraStandin) -> list[dict[str, Any]]:
    """`GET /field`: the system fields, the worklog field, and the site's organisations
    field where it has Jira Service Management (`organizations_field`)."""
    fields = [{"id": ident, "key": ident, "name": name, "custom": False, "orderable": True,
               "navigable": True, "searchable": True, "clauseNames": [ident],
               "schema": {"type": kind, "system": ident}}
              for ident, name, kind in SYSTEM_FIELDS]
    fields.append({"id": "worklog", "key": "worklog", "name": "Log Work", "custom": False,
                   "orderable": True, "navigable": False, "searchable": True, "clauseNames": [],
                   "schema": {"type": "array", "items": "worklog", "system": "worklog"}})
    ident = standin.organizations_field
    if ident:
        number = int(ident.rpartition("_")[2])
        fields.append({"id": ident, "key": ident, "name": "Organizations", "untranslatedName": "Organizations",
                       "custom": True, "orderable": True, "navigable": True, "searchable": True,
                       "clauseNames": [f"cf[{number}]", "Organizations"],
                       "schema": {"type": "array", "items": "sd-customerorganization",
                                  "custom": ORGANIZATIONS_TYPE, "customId": number}})
    return fields


def organizations_json(standin: JiraStandin, names: list[str], base: str) -> list[dict[str, Any]]:
    """A ticket's organisations as the organisations field holds them."""
    ids = [standin.organization_id(name) for name in names]
    return [{"id": ident, "name": name, "_links": {"self": f"{base}/rest/servicedeskapi/organization/{ident}"}}
            for ident, name in zip(ids, names, strict=True)]

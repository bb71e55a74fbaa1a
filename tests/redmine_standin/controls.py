"""The stand-in's controls: people acting in Redmine's UI, seeding, bulk data.

A person's act goes through the same code as a REST edit, so Redmine's rules bind it (a
customer's status change the role workflow forbids is dropped) unless `"force": true`; it
sends the webhook unless `"hook": false` (as when the plugin's post was lost). `at` (ISO
8601) dates the change instead of now. People and records are named as a person would:
users by login, statuses, trackers and custom fields by name (ids work too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import changes, webhooks
from . import model as m
from .times import now, parse_time, rest_time

if TYPE_CHECKING:
    from .state import RedmineStandin

DEFAULT_ACTOR = "resitel"


def actor(standin: RedmineStandin, data: dict[str, Any], default: str = DEFAULT_ACTOR) -> m.User:
    user = standin.user(data.get("user", default))
    if user is None:
        raise ValueError(f"no user {data.get('user')!r}")
    return user


def attributes(standin: RedmineStandin, data: dict[str, Any]) -> dict[str, Any]:
    """A control's names as the REST body's `issue` attributes."""
    attrs: dict[str, Any] = {}
    if data.get("status") is not None:
        attrs["status_id"] = standin.status(data["status"]).id
    if data.get("tracker") is not None:
        attrs["tracker_id"] = standin.tracker(data["tracker"]).id
    if data.get("priority") is not None:
        attrs["priority_id"] = standin.priority(data["priority"]).id
    if data.get("assigned_to") is not None:
        attrs["assigned_to_id"] = standin.user(data["assigned_to"]).id  # type: ignore[union-attr]
    if data.get("fields"):
        attrs["custom_fields"] = [{"id": standin.custom_field(name).id, "value": value}
                                  for name, value in data["fields"].items()]
    if data.get("parent") is not None:
        attrs["parent_issue_id"] = data["parent"]
    if data.get("project") is not None:
        project = standin.project(data["project"])
        attrs["project_id"] = project.id if project else data["project"]
    for name in ("subject", "description", "notes", "private_notes", "done_ratio", "estimated_hours",
                 "start_date", "due_date"):
        if name in data:
            attrs[name] = data[name]
    return attrs


def issue_state(standin: RedmineStandin, issue: m.Issue) -> dict[str, Any]:
    """Everything about an issue, private notes included, by names: what GET
    /_standin/issues/{id} answers."""
    name = lambda records, ident: records[ident].name if ident is not None else None  # noqa: E731
    login = lambda ident: standin.users[ident].login if ident is not None else None  # noqa: E731
    return {
        "id": issue.id, "project": standin.projects[issue.project_id].identifier,
        "tracker": name(standin.trackers, issue.tracker_id), "status": name(standin.statuses, issue.status_id),
        "priority": name(standin.priorities, issue.priority_id), "subject": issue.subject,
        "description": issue.description, "author": login(issue.author_id), "assigned_to": login(issue.assigned_to_id),
        "parent": issue.parent_id, "children": list(standin.children.get(issue.id, [])),
        "fields": {f.name: issue.custom_values.get(f.id) for f in standin.fields_of(issue)},
        "created_on": rest_time(issue.created_on), "updated_on": rest_time(issue.updated_on),
        "closed_on": rest_time(issue.closed_on), "lock_version": issue.lock_version,
        "journals": [journal_state(standin, j) for j in issue.journals],
        "attachments": [{"id": a, "filename": standin.attachments[a].filename} for a in issue.attachment_ids],
        "relations": [{"id": r.id, "issue_id": r.issue_from_id, "issue_to_id": r.issue_to_id,
                       "relation_type": r.relation_type} for r in standin.relations.values()
                      if issue.id in (r.issue_from_id, r.issue_to_id)],
        "time_entries": [{"id": e.id, "user": login(e.user_id), "hours": e.hours, "spent_on": e.spent_on.isoformat()}
                         for e in standin.time_entries.values() if e.issue_id == issue.id],
    }


def journal_state(standin: RedmineStandin, journal: m.Journal) -> dict[str, Any]:
    return {"id": journal.id, "user": standin.users[journal.user_id].login, "notes": journal.notes,
            "private_notes": journal.private_notes, "created_on": rest_time(journal.created_on),
            "details": [{"property": d.property, "name": d.name, "old_value": d.old_value, "new_value": d.new_value}
                        for d in journal.details]}


def find_issue(standin: RedmineStandin, ident: Any) -> m.Issue:
    issue = standin.issues.get(int(ident))
    if issue is None:
        raise LookupError(f"no issue {ident}")
    return issue


def create(standin: RedmineStandin, data: dict[str, Any], base: str) -> dict[str, Any]:
    """A person creates an issue in the UI (default: zakaznik): `opened` goes out."""
    user = actor(standin, data, "zakaznik")
    attrs = attributes(standin, data)
    attrs.setdefault("project_id", next(iter(standin.projects)))
    issue = changes.create_issue(standin, user, attrs, data.get("at"))
    body = webhooks.opened(standin, issue, base)
    if data.get("hook", True):
        webhooks.emit(standin, body)
    return {"issue": issue_state(standin, issue), "webhook": body}


def act(standin: RedmineStandin, issue: m.Issue, data: dict[str, Any], base: str,
        uploads: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A person edits an issue in the UI: status, notes, fields, files."""
    user = actor(standin, data)
    edit = changes.update_issue(standin, issue, user, attributes(standin, data), data.get("at"),
                                force=bool(data.get("force")), uploads=uploads or data.get("attachments"))
    body = webhooks.updated(standin, issue, edit.journal, base)
    if data.get("hook", True):
        webhooks.emit(standin, body)
    journal = journal_state(standin, edit.journal) if edit.journal.id else None
    return {"issue": issue_state(standin, issue), "journal": journal,
            "journals": [journal_state(standin, j) for j in edit.saved], "status_dropped": edit.status_dropped,
            "webhook": body}


def log_time(standin: RedmineStandin, issue: m.Issue, data: dict[str, Any]) -> dict[str, Any]:
    """A person logs time on the issue (activity by name or id; default the first)."""
    user = actor(standin, data)
    activity = standin.activity(data.get("activity", next(iter(standin.activities)))).id
    entry = changes.log_time(standin, user, {"issue_id": issue.id, "activity_id": activity, "hours": data.get("hours"),
                                             "comments": data.get("comments", ""), "spent_on": data.get("spent_on")},
                             data.get("at"))
    return {"id": entry.id, "issue": issue.id, "user": user.login, "hours": entry.hours,
            "activity": standin.activities[entry.activity_id].name, "spent_on": entry.spent_on.isoformat()}


def bulk(standin: RedmineStandin, data: dict[str, Any]) -> dict[str, Any]:
    """`count` issues at once, for benchmarks: no permissions, no webhooks. With `changed`
    ({"count" or "every", "status", "user", "at", "notes"}), that many of them, spread evenly,
    then change status at `at` with a journal, so that `updated_on>=` a cursor before `at`
    finds exactly them."""
    count = int(data["count"])
    project = standin.project(data.get("project", next(iter(standin.projects))))
    if project is None:
        raise ValueError(f"no project {data.get('project')!r}")
    tracker = standin.tracker(data.get("tracker", project.tracker_ids[0]))
    status = standin.status(data.get("status", tracker.default_status_id))
    author = actor(standin, {"user": data.get("author", "bridgebot")})
    made = parse_time(data["created_on"]) if data.get("created_on") else now()
    priority = standin.default_priority().id
    subject = data.get("subject", "Požadavek {n}")
    ids = []
    for n in range(1, count + 1):
        ident = standin.next_id("issue")
        standin.issues[ident] = m.Issue(ident, project.id, tracker.id, status.id, priority, author.id,
                                        subject.format(n=n, id=ident), made, made, start_date=made.date(),
                                        closed_on=made if status.is_closed else None)
        ids.append(ident)
    changed: list[int] = []
    wanted = data.get("changed")
    if wanted and ids:
        every = int(wanted["every"]) if wanted.get("every") else max(count // max(int(wanted.get("count", 1)), 1), 1)
        limit = int(wanted["count"]) if wanted.get("count") else count
        chosen = ids[::every][:limit]
        target = standin.status(wanted.get("status", status.id))
        who = actor(standin, wanted, "resitel")
        at = parse_time(wanted["at"]) if wanted.get("at") else now()
        for ident in chosen:
            issue = standin.issues[ident]
            details = [] if target.id == issue.status_id else [
                m.Detail("attr", "status_id", str(issue.status_id), str(target.id), standin.next_id("detail"))]
            issue.journals.append(m.Journal(standin.next_id("journal"), ident, who.id, wanted.get("notes") or "",
                                            at, False, details))
            issue.status_id, issue.updated_on = target.id, at
            issue.lock_version += 1
            if target.is_closed and issue.closed_on is None:
                issue.closed_on = at
        changed = chosen
    return {"first": ids[0] if ids else None, "last": ids[-1] if ids else None, "count": count, "changed": changed}


def state(standin: RedmineStandin) -> dict[str, Any]:
    """Who and what is seeded: users with their keys and roles, statuses, trackers, roles,
    workflows (by names)."""
    roles_by_user: dict[int, dict[str, list[str]]] = {}
    for ms in standin.memberships.values():
        roles_by_user.setdefault(ms.user_id, {})[standin.projects[ms.project_id].identifier] = [
            standin.roles[r].name for r in ms.role_ids]
    workflows: dict[tuple[str, str], dict[str, list[str]]] = {}
    for (tracker, role, start), targets in sorted(standin.workflow.items()):
        if targets:
            shown = workflows.setdefault((standin.trackers[tracker].name, standin.roles[role].name), {})
            shown[standin.statuses[start].name] = [standin.statuses[t].name for t in sorted(targets)]
    return {
        "users": [{"id": u.id, "login": u.login, "name": u.name, "api_key": u.api_key, "admin": u.admin,
                   "locked": u.status != 1, "roles": roles_by_user.get(u.id, {})} for u in standin.users.values()],
        "statuses": [{"id": s.id, "name": s.name, "is_closed": s.is_closed} for s in standin.statuses.values()],
        "trackers": [{"id": t.id, "name": t.name, "default_status": standin.statuses[t.default_status_id].name,
                      "statuses": [standin.statuses[s].name for s in standin.tracker_status_ids[t.id]]}
                     for t in standin.trackers.values()],
        "roles": [{"id": r.id, "name": r.name, "permissions": sorted(r.permissions)} for r in standin.roles.values()],
        "projects": [{"id": p.id, "identifier": p.identifier, "name": p.name,
                      "trackers": [standin.trackers[t].name for t in p.tracker_ids]} for p in standin.projects.values()],
        "custom_fields": [{"id": f.id, "name": f.name} for f in standin.custom_fields.values()],
        "activities": [{"id": a.id, "name": a.name} for a in standin.activities.values()],
        "workflows": [{"tracker": t, "role": r, "transitions": moves} for (t, r), moves in workflows.items()],
        "webhook": standin.webhook and {k: v for k, v in standin.webhook.items() if k not in ("token", "secret")},
    }

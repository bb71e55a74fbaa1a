"""The REST API's JSON, as Redmine 5.0's API views (app/views/**/*.api.rsb) build it.

Keys come in the views' order, `null` where the view writes a nil, and a key is left out
where the view leaves it out: `assigned_to` and `parent` without one, `custom_fields` when the
tracker has none, `spent_hours` for a user who may not view time entries, `relations` on one
issue without any (but `[]` in a list asked to include them), `children` on a leaf. Journals
show only what the viewer may see: private notes need view_private_notes (or being their
author).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import model as m
from .times import rest_time

if TYPE_CHECKING:
    from .state import RedmineStandin


def ref(record: Any) -> dict[str, Any]:
    return {"id": record.id, "name": record.name}


def status_json(status: m.Status) -> dict[str, Any]:
    return {"id": status.id, "name": status.name, "is_closed": status.is_closed}


def issue_json(standin: RedmineStandin, issue: m.Issue, viewer: m.User, include: set[str], base: str,
               *, listed: bool = False) -> dict[str, Any]:
    """An issue as GET /issues/{id}.json shows it (`listed`: as GET /issues.json lists it)."""
    shown: dict[str, Any] = {"id": issue.id, "project": ref(standin.projects[issue.project_id]),
                             "tracker": ref(standin.trackers[issue.tracker_id]),
                             "status": status_json(standin.statuses[issue.status_id]),
                             "priority": ref(standin.priorities[issue.priority_id]),
                             "author": ref(standin.users[issue.author_id])}
    if issue.assigned_to_id is not None:
        shown["assigned_to"] = ref(standin.users[issue.assigned_to_id])
    if issue.parent_id is not None:
        shown["parent"] = {"id": issue.parent_id}
    shown.update({
        "subject": issue.subject, "description": issue.description,
        "start_date": issue.start_date.isoformat() if issue.start_date else None,
        "due_date": issue.due_date.isoformat() if issue.due_date else None,
        "done_ratio": issue.done_ratio, "is_private": issue.is_private,
        "estimated_hours": issue.estimated_hours, "total_estimated_hours": _total_estimate(standin, issue),
    })
    if standin.allowed(viewer, "view_time_entries", issue.project_id):
        family = [issue.id, *(d.id for d in standin.descendants(issue))]
        shown["spent_hours"] = _hours(standin, [issue.id])
        shown["total_spent_hours"] = _hours(standin, family)
    fields = standin.fields_of(issue)
    if fields:
        shown["custom_fields"] = [{"id": f.id, "name": f.name, "value": issue.custom_values.get(f.id)} for f in fields]
    shown.update({"created_on": rest_time(issue.created_on), "updated_on": rest_time(issue.updated_on),
                  "closed_on": rest_time(issue.closed_on)})
    if "children" in include and not listed and standin.children.get(issue.id):
        shown["children"] = _children(standin, issue)
    if "attachments" in include:
        shown["attachments"] = [attachment_json(standin, standin.attachments[a], base) for a in issue.attachment_ids]
    relations = [relation_json(r) for r in relations_of(standin, issue, viewer)]
    if "relations" in include and (listed or relations):
        shown["relations"] = relations
    if "journals" in include and not listed:
        shown["journals"] = [journal_json(standin, j, viewer) for j in issue.journals
                             if journal_visible(standin, issue, j, viewer)]
    if "allowed_statuses" in include and not listed:
        shown["allowed_statuses"] = [status_json(s) for s in standin.statuses_allowed(issue, viewer)]
    return shown


def _total_estimate(standin: RedmineStandin, issue: m.Issue) -> float | None:
    if not standin.children.get(issue.id):
        return issue.estimated_hours
    return float(sum(i.estimated_hours or 0 for i in [issue, *standin.descendants(issue)]))


def _hours(standin: RedmineStandin, issue_ids: list[int]) -> float:
    wanted = set(issue_ids)
    return round(float(sum(e.hours for e in standin.time_entries.values() if e.issue_id in wanted)), 2)


def _children(standin: RedmineStandin, issue: m.Issue) -> list[dict[str, Any]]:
    shown = []
    for child_id in standin.children.get(issue.id, []):
        child = standin.issues[child_id]
        entry: dict[str, Any] = {"id": child.id, "tracker": ref(standin.trackers[child.tracker_id]),
                                 "subject": child.subject}
        if standin.children.get(child.id):
            entry["children"] = _children(standin, child)
        shown.append(entry)
    return shown


def journal_visible(standin: RedmineStandin, issue: m.Issue, journal: m.Journal, viewer: m.User) -> bool:
    return (not journal.private_notes or journal.user_id == viewer.id
            or standin.allowed(viewer, "view_private_notes", issue.project_id))


def journal_json(standin: RedmineStandin, journal: m.Journal, viewer: m.User) -> dict[str, Any]:
    details = []
    for d in journal.details:
        if d.property == "relation":
            other = standin.issues.get(int(d.new_value or d.old_value or 0))
            if other is None or not standin.visible(other, viewer):
                continue
        details.append({"property": d.property, "name": d.name, "old_value": d.old_value, "new_value": d.new_value})
    return {"id": journal.id, "user": ref(standin.users[journal.user_id]), "notes": journal.notes,
            "created_on": rest_time(journal.created_on), "private_notes": journal.private_notes, "details": details}


def relations_of(standin: RedmineStandin, issue: m.Issue, viewer: m.User) -> list[m.Relation]:
    found = []
    for r in standin.relations.values():
        if issue.id in (r.issue_from_id, r.issue_to_id):
            other = standin.issues.get(r.issue_to_id if r.issue_from_id == issue.id else r.issue_from_id)
            if other is not None and standin.visible(other, viewer):
                found.append(r)
    return found


def relation_json(relation: m.Relation) -> dict[str, Any]:
    return {"id": relation.id, "issue_id": relation.issue_from_id, "issue_to_id": relation.issue_to_id,
            "relation_type": relation.relation_type, "delay": relation.delay}


def attachment_json(standin: RedmineStandin, attachment: m.Attachment, base: str) -> dict[str, Any]:
    return {"id": attachment.id, "filename": attachment.filename, "filesize": attachment.filesize,
            "content_type": attachment.content_type, "description": attachment.description,
            "content_url": f"{base}/attachments/download/{attachment.id}/{quote(attachment.filename)}",
            "author": ref(standin.users[attachment.author_id]), "created_on": rest_time(attachment.created_on)}


def time_entry_json(standin: RedmineStandin, entry: m.TimeEntry) -> dict[str, Any]:
    shown: dict[str, Any] = {"id": entry.id, "project": ref(standin.projects[entry.project_id])}
    if entry.issue_id is not None:
        shown["issue"] = {"id": entry.issue_id}
    shown.update({"user": ref(standin.users[entry.user_id]), "activity": ref(standin.activities[entry.activity_id]),
                  "hours": entry.hours, "comments": entry.comments, "spent_on": entry.spent_on.isoformat(),
                  "created_on": rest_time(entry.created_on), "updated_on": rest_time(entry.updated_on)})
    return shown


def membership_json(standin: RedmineStandin, membership: m.Membership) -> dict[str, Any]:
    return {"id": membership.id, "project": ref(standin.projects[membership.project_id]),
            "user": ref(standin.users[membership.user_id]),
            "roles": [ref(standin.roles[r]) for r in membership.role_ids]}


def tracker_json(standin: RedmineStandin, tracker: m.Tracker) -> dict[str, Any]:
    default = standin.statuses[tracker.default_status_id]
    return {"id": tracker.id, "name": tracker.name, "default_status": ref(default),
            "description": tracker.description,
            "enabled_standard_fields": ["assigned_to_id", "category_id", "fixed_version_id", "parent_issue_id",
                                        "start_date", "due_date", "estimated_hours", "done_ratio", "description"]}


def project_json(project: m.Project) -> dict[str, Any]:
    return {"id": project.id, "name": project.name, "identifier": project.identifier,
            "description": project.description, "status": 1, "is_public": project.is_public,
            "inherit_members": False, "created_on": rest_time(project.created_on),
            "updated_on": rest_time(project.created_on)}


def enumeration_json(enumeration: m.Enumeration) -> dict[str, Any]:
    return {"id": enumeration.id, "name": enumeration.name, "is_default": enumeration.is_default,
            "active": enumeration.active}


def current_user_json(user: m.User) -> dict[str, Any]:
    """GET /users/current.json: the key's own user, its API key included."""
    shown: dict[str, Any] = {"id": user.id, "login": user.login, "admin": user.admin,
                             "firstname": user.firstname, "lastname": user.lastname}
    if user.mail and (user.admin or not user.hide_mail):
        shown["mail"] = user.mail
    created = rest_time(user.created_on)
    shown.update({"created_on": created, "updated_on": created, "last_login_on": rest_time(user.last_login_on),
                  "passwd_changed_on": created, "twofa_scheme": None, "api_key": user.api_key})
    return shown


def page(name: str, items: list[Any], total: int, offset: int, limit: int) -> dict[str, Any]:
    return {name: items, "total_count": total, "offset": offset, "limit": limit}

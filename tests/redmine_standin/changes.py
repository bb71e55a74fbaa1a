"""Changing issues as Redmine 5.0 does, for REST calls and the controls alike.

What Redmine does and a client must live with, reproduced here:
- An edit's attributes pass through the acting user's permissions: a status outside the
  statuses the user's role workflows allow (an unknown status id too) is dropped silently,
  so are attributes a user may not edit (custom fields of another tracker, private notes
  without set_notes_private, a tracker the project lacks). Only invalid values of attributes
  kept are refused: 422 with `{"errors": [...]}` in Redmine's English messages.
- Every edit bumps updated_on (and lock_version), even one that changed nothing; a journal
  is saved only if it has notes or details. Details hold strings: `"12"` → `"16"`.
- Private notes with changes are split in two journals, the changes public, the notes
  private; the edit's own journal (the one the webhook plugin sends) keeps the notes only.
- A parent with an open sub-task, or an issue an open issue blocks, cannot be closed; a
  sub-task of a closed parent cannot be re-opened: the status is dropped.
- Deleting an attachment or adding a relation writes a journal but leaves updated_on alone;
  logging time touches the issue not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from . import model as m
from .times import now, parse_date, parse_time

if TYPE_CHECKING:
    from .state import RedmineStandin

# Issue.column_names' order, which journal details follow.
JOURNALIZED = ("tracker_id", "project_id", "subject", "description", "due_date", "status_id",
               "assigned_to_id", "priority_id", "start_date", "done_ratio", "estimated_hours",
               "parent_id", "is_private")
RELATION_TYPES = {"relates": "relates", "duplicates": "duplicated", "duplicated": "duplicates",
                  "blocks": "blocked", "blocked": "blocks", "precedes": "follows", "follows": "precedes",
                  "copied_to": "copied_from", "copied_from": "copied_to"}
REVERSED = {"duplicated": "duplicates", "blocked": "blocks", "follows": "precedes", "copied_from": "copied_to"}


class Invalid(Exception):
    """Redmine refuses the values: 422 with these messages."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


class Forbidden(Exception):
    """403: the user's roles do not allow the action."""


@dataclass
class Edit:
    """What one edit did: the journal the edit made (unsaved when nothing changed), every
    journal saved, and whether a status change asked for was dropped."""

    issue: m.Issue
    journal: m.Journal
    saved: list[m.Journal] = field(default_factory=list)
    status_dropped: bool = False


def as_text(value: Any) -> str | None:
    """A value as a journal detail holds it."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def truthy(value: Any) -> bool:
    """A flag as Rails reads a parameter: true, 1, "1", "true"."""
    return value is True or str(value).lower() in ("1", "true")


def _when(at: Any) -> datetime:
    return parse_time(at) if isinstance(at, str) else (at or now())


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip().lstrip("#"))
    except ValueError:
        return None


# --- creating ------------------------------------------------------------------------------
def create_issue(standin: RedmineStandin, user: m.User, attrs: dict[str, Any], at: Any = None) -> m.Issue:
    """POST /issues.json: `attrs` is the body's `issue`."""
    project = standin.project(attrs.get("project_id")) if attrs.get("project_id") is not None else None
    if project is None:
        raise Invalid("Project cannot be blank")
    if not standin.allowed(user, "add_issues", project.id):
        raise Forbidden()
    tracker_id = _int(attrs.get("tracker_id"))
    if tracker_id not in project.tracker_ids:
        tracker_id = project.tracker_ids[0] if project.tracker_ids else None
    if tracker_id is None:
        raise Invalid("Tracker cannot be blank")
    tracker = standin.trackers[tracker_id]
    moment = _when(at)
    issue = m.Issue(0, project.id, tracker.id, tracker.default_status_id, standin.default_priority().id,
                    user.id, "", moment, moment, start_date=moment.date())
    wanted = _int(attrs.get("status_id"))
    if wanted is not None and any(s.id == wanted for s in standin.statuses_allowed(issue, user)):
        issue.status_id = wanted
    values = _values(standin, issue, user, attrs, editable=True, creating=True)
    issue.id = standin.next_id("issue")
    _apply(standin, issue, values)
    if standin.closed(issue):
        issue.closed_on = moment
    standin.issues[issue.id] = issue
    return issue


def seed_issue(standin: RedmineStandin, d: dict[str, Any]) -> m.Issue:
    """An issue as a seed describes it, by names: no permissions, no webhook. `status`,
    `tracker`, `project` (default: the first), `author` (default bridgebot), `subject`,
    `custom_fields` {name: value}, `parent`, `created_on`/`updated_on`/`closed_on`,
    `journals` [{user, notes, private_notes, created_on, details: [{property, name,
    old_value, new_value}]}]."""
    project = standin.project(d.get("project", next(iter(standin.projects))))
    if project is None:
        raise ValueError(f"no project {d.get('project')!r}")
    tracker = standin.tracker(d.get("tracker", project.tracker_ids[0]))
    status = standin.status(d["status"]) if d.get("status") is not None else standin.statuses[tracker.default_status_id]
    author = standin.user(d.get("author", "bridgebot"))
    if author is None:
        raise ValueError(f"no user {d.get('author')!r}")
    created = _when(d.get("created_on"))
    updated = _when(d["updated_on"]) if d.get("updated_on") else created
    ident = standin.taken("issue", d.get("id"))
    if ident in standin.issues:
        raise ValueError(f"issue {ident} exists already")
    priority = standin.priority(d.get("priority", standin.default_priority().id))
    issue = m.Issue(ident, project.id, tracker.id, status.id, priority.id, author.id,
                    d.get("subject", f"Issue {ident}"), created, updated, description=d.get("description"), start_date=created.date(),
                    estimated_hours=d.get("estimated_hours"))
    if d.get("assigned_to"):
        issue.assigned_to_id = standin.user(d["assigned_to"]).id
    if d.get("parent") is not None:
        parent = standin.issues[int(d["parent"])]
        issue.parent_id = parent.id
        standin.children[parent.id].append(issue.id)
    for name, value in (d.get("custom_fields") or {}).items():
        issue.custom_values[standin.custom_field(name).id] = value
    if d.get("closed_on"):
        issue.closed_on = _when(d["closed_on"])
    elif status.is_closed:
        issue.closed_on = updated
    for j in d.get("journals", []):
        who = standin.user(j.get("user", "bridgebot"))
        details = [m.Detail(x["property"], str(x["name"]), x.get("old_value"), x.get("new_value"),
                            standin.next_id("detail")) for x in j.get("details", [])]
        issue.journals.append(m.Journal(standin.taken("journal", j.get("id")), issue.id, who.id, j.get("notes", ""),
                                        _when(j.get("created_on")) if j.get("created_on") else updated,
                                        bool(j.get("private_notes")), details))
    standin.issues[issue.id] = issue
    return issue


# --- editing -------------------------------------------------------------------------------
def update_issue(standin: RedmineStandin, issue: m.Issue, user: m.User, attrs: dict[str, Any],
                 at: Any = None, *, force: bool = False, uploads: list[dict[str, Any]] | None = None) -> Edit:
    """PUT /issues/{id}.json: `attrs` is the body's `issue`. `force` (controls only) sets
    the status whatever the workflow says; `uploads` attach files, as the edit form does."""
    editable = standin.allowed(user, "edit_issues", issue.project_id)
    notes_ok = standin.allowed(user, "add_issue_notes", issue.project_id)
    if not (editable or notes_ok or force):
        raise Forbidden()
    moment = _when(at)
    values = _values(standin, issue, user, attrs, editable=editable or force, creating=False)
    dropped = False
    if attrs.get("status_id") is not None and (editable or force):
        wanted = _int(attrs["status_id"])
        allowed = {s.id for s in standin.statuses_allowed(issue, user)}
        if wanted in standin.statuses and (force or wanted in allowed):
            values["status_id"] = wanted
        else:
            dropped = wanted != issue.status_id
    notes = attrs.get("notes") if (notes_ok or force) else None
    private = truthy(attrs.get("private_notes")) and (force or standin.allowed(user, "set_notes_private", issue.project_id))
    before = {name: getattr(issue, name) for name in JOURNALIZED}
    custom_before = {f.id: issue.custom_values.get(f.id) for f in standin.fields_of(issue)}
    was_closed = standin.closed(issue)
    _apply(standin, issue, values)
    details = [m.Detail("attr", name, as_text(before[name]), as_text(getattr(issue, name)))
               for name in JOURNALIZED if as_text(before[name]) != as_text(getattr(issue, name))]
    details += [m.Detail("cf", str(fid), as_text(old), as_text(issue.custom_values.get(fid)))
                for fid, old in custom_before.items() if as_text(old) != as_text(issue.custom_values.get(fid))]
    for upload in uploads or []:
        attachment = _attach(standin, issue, user, upload, moment)
        details.append(m.Detail("attachment", str(attachment.id), None, attachment.filename))
    if standin.closed(issue) and not was_closed:
        issue.closed_on = moment
    issue.updated_on = moment
    issue.lock_version += 1
    return _journalize(standin, issue, user, notes, private, details, moment, dropped)


def _journalize(standin: RedmineStandin, issue: m.Issue, user: m.User, notes: Any, private: bool,
                details: list[m.Detail], moment: datetime, dropped: bool) -> Edit:
    text = notes if isinstance(notes, str) else ("" if notes is None else str(notes))
    if not text.strip():
        private = False
    journal = m.Journal(None, issue.id, user.id, text, None, private, [])
    saved: list[m.Journal] = []
    if private and details:
        public = m.Journal(standin.next_id("journal"), issue.id, user.id, None, moment, False, details)
        saved.append(public)
    elif details:
        journal.details = details
    if journal.details or text.strip():
        journal.id, journal.created_on = standin.next_id("journal"), moment
        saved.append(journal)
    for j in saved:
        for d in j.details:
            d.id = standin.next_id("detail")
    issue.journals.extend(saved)
    return Edit(issue, journal, saved, dropped)


def _values(standin: RedmineStandin, issue: m.Issue, user: m.User, attrs: dict[str, Any], *,
            editable: bool, creating: bool) -> dict[str, Any]:
    """The attributes an edit keeps, checked: Invalid with every message, as Redmine lists them."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    if not editable:
        return values
    if "subject" in attrs or creating:
        subject = str(attrs.get("subject") or "").strip()
        if not subject:
            errors.append("Subject cannot be blank")
        elif len(subject) > 255:
            errors.append("Subject is too long (maximum is 255 characters)")
        values["subject"] = subject
    if "description" in attrs:
        values["description"] = attrs["description"]
    if "priority_id" in attrs:
        priority = _int(attrs["priority_id"])
        if priority not in standin.priorities:
            errors.append("Priority cannot be blank")
        values["priority_id"] = priority
    if "assigned_to_id" in attrs:
        assignee = _int(attrs["assigned_to_id"]) if attrs["assigned_to_id"] not in (None, "") else None
        member = assignee in standin.users and standin.roles_of(standin.users[assignee], issue.project_id)
        if assignee is not None and not member:
            errors.append("Assignee is invalid")
        values["assigned_to_id"] = assignee
    for name, label in (("start_date", "Start date"), ("due_date", "Due date")):
        if name in attrs:
            try:
                values[name] = parse_date(attrs[name]) if attrs[name] else None
            except (TypeError, ValueError):
                errors.append(f"{label} is not a valid date")
    if "done_ratio" in attrs:
        ratio = _int(attrs["done_ratio"])
        if ratio is None or ratio not in range(0, 101, 10):
            errors.append("% Done is not included in the list")
        values["done_ratio"] = ratio
    if "estimated_hours" in attrs:
        try:
            hours = float(attrs["estimated_hours"]) if attrs["estimated_hours"] not in (None, "") else None
            if hours is not None and hours < 0:
                raise ValueError
            values["estimated_hours"] = hours
        except (TypeError, ValueError):
            errors.append("Estimated time is invalid")
    if "tracker_id" in attrs and not creating:
        tracker = _int(attrs["tracker_id"])
        if tracker in standin.projects[issue.project_id].tracker_ids:
            values["tracker_id"] = tracker
    if attrs.get("parent_issue_id") not in (None, "") and standin.allowed(user, "manage_subtasks", issue.project_id):
        parent = _int(attrs["parent_issue_id"])
        target = standin.issues.get(parent) if parent is not None else None
        if target is None or not standin.visible(target, user) or target.id == issue.id \
                or any(a.id == issue.id for a in standin.ancestors(target)):
            errors.append("Parent task is invalid")
        else:
            values["parent_id"] = target.id
    elif "parent_issue_id" in attrs and attrs["parent_issue_id"] in (None, "") and not creating:
        values["parent_id"] = None
    custom = attrs.get("custom_fields") or []
    carried = {f.id: f for f in standin.fields_of(issue)}
    for item in custom if isinstance(custom, list) else []:
        fid = _int(item.get("id")) if isinstance(item, dict) else None
        if fid not in carried:
            continue  # not a field of this tracker: Redmine drops it
        value = item.get("value")
        value = None if value in ("", None) else str(value)
        pattern = carried[fid].regexp
        if value is not None and pattern and not re.fullmatch(pattern, value):
            errors.append(f"{carried[fid].name} is invalid")
        values.setdefault("custom_values", {})[fid] = value
    if errors:
        raise Invalid(*errors)
    return values


def _apply(standin: RedmineStandin, issue: m.Issue, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if name == "custom_values":
            issue.custom_values.update(value)
        elif name == "parent_id":
            if issue.parent_id is not None and issue.id in standin.children.get(issue.parent_id, []):
                standin.children[issue.parent_id].remove(issue.id)
            issue.parent_id = value
            if value is not None:
                standin.children[value].append(issue.id)
        else:
            setattr(issue, name, value)


# --- attachments, relations, time ---------------------------------------------------------
def _attach(standin: RedmineStandin, issue: m.Issue, user: m.User, d: dict[str, Any], moment: datetime) -> m.Attachment:
    attachment = m.Attachment(standin.next_id("attachment"), issue.id, d["filename"], int(d.get("filesize", 1024)),
                              d.get("content_type"), d.get("description"), user.id, moment)
    standin.attachments[attachment.id] = attachment
    issue.attachment_ids.append(attachment.id)
    return attachment


def delete_attachment(standin: RedmineStandin, attachment: m.Attachment, user: m.User, at: Any = None) -> m.Journal:
    """DELETE /attachments/{id}.json: needs edit_issues; a journal, no updated_on."""
    issue = standin.issues[attachment.issue_id]
    if not standin.allowed(user, "edit_issues", issue.project_id):
        raise Forbidden()
    del standin.attachments[attachment.id]
    issue.attachment_ids.remove(attachment.id)
    journal = m.Journal(standin.next_id("journal"), issue.id, user.id, "", _when(at), False,
                        [m.Detail("attachment", str(attachment.id), attachment.filename, None, standin.next_id("detail"))])
    issue.journals.append(journal)
    return journal


def relate(standin: RedmineStandin, issue: m.Issue, user: m.User, d: dict[str, Any], at: Any = None) -> m.Relation:
    """POST /issues/{id}/relations.json: a journal on both issues, no updated_on."""
    if not standin.allowed(user, "manage_issue_relations", issue.project_id):
        raise Forbidden()
    other = standin.issues.get(_int(d.get("issue_to_id")) or 0)
    kind = d.get("relation_type") or "relates"
    errors = []
    if other is None or not standin.visible(other, user) or other.id == issue.id:
        errors.append("Related issue cannot be blank" if other is None else "Related issue is invalid")
    if kind not in RELATION_TYPES:
        errors.append("Relation type is not included in the list")
    if errors:
        raise Invalid(*errors)
    source, target = (other, issue) if kind in REVERSED else (issue, other)
    kind = REVERSED.get(kind, kind)
    if any((r.issue_from_id, r.issue_to_id) in ((source.id, target.id), (target.id, source.id))
           for r in standin.relations.values()):
        raise Invalid("Related issue has already been taken")
    relation = m.Relation(standin.next_id("relation"), source.id, target.id, kind, _int(d.get("delay")))
    standin.relations[relation.id] = relation
    moment = _when(at)
    for side, shown, far in ((source, kind, target), (target, RELATION_TYPES[kind], source)):
        side.journals.append(m.Journal(standin.next_id("journal"), side.id, user.id, "", moment, False,
                                       [m.Detail("relation", shown, None, str(far.id), standin.next_id("detail"))]))
    return relation


def relate_seeded(standin: RedmineStandin, d: dict[str, Any]) -> m.Relation:
    kind = d.get("relation_type", "relates")
    source, target = int(d["issue_id"]), int(d["issue_to_id"])
    if kind in REVERSED:
        source, target, kind = target, source, REVERSED[kind]
    relation = m.Relation(standin.taken("relation", d.get("id")), source, target, kind, d.get("delay"))
    standin.relations[relation.id] = relation
    return relation


def log_time(standin: RedmineStandin, user: m.User, d: dict[str, Any], at: Any = None) -> m.TimeEntry:
    """POST /time_entries.json: `d` is the body's `time_entry`."""
    issue = standin.issues.get(_int(d.get("issue_id")) or 0) if d.get("issue_id") not in (None, "") else None
    project = standin.projects[issue.project_id] if issue else standin.project(d.get("project_id"))
    errors = []
    if d.get("issue_id") not in (None, "") and (issue is None or not standin.visible(issue, user)):
        errors.append("Issue is invalid")
    if project is None and not errors:
        errors.append("Project cannot be blank")
    elif project is not None and not standin.allowed(user, "log_time", project.id):
        raise Forbidden()
    activity = _int(d.get("activity_id")) if d.get("activity_id") not in (None, "") else None
    if activity is None:
        activity = next((a.id for a in standin.activities.values() if a.is_default and a.active), None)
    if activity is None:
        errors.append("Activity cannot be blank")
    elif activity not in standin.activities or not standin.activities[activity].active:
        errors.append("Activity is not included in the list")
    hours: float | None = None
    try:
        hours = float(str(d["hours"]).replace(",", ".")) if d.get("hours") not in (None, "") else None
    except ValueError:
        errors.append("Hours is invalid")
    else:
        if hours is None:
            errors.append("Hours cannot be blank")
        elif hours <= 0:
            errors.append("Hours is invalid")
    spent_on = None
    try:
        spent_on = parse_date(d["spent_on"]) if d.get("spent_on") else _when(at).date()
    except ValueError:
        errors.append("Date is not a valid date")
    if errors:
        raise Invalid(*errors)
    moment = _when(at)
    entry = m.TimeEntry(standin.next_id("time_entry"), project.id, issue.id if issue else None, user.id, activity,
                        round(hours, 2), str(d.get("comments") or ""), spent_on, moment, moment)
    standin.time_entries[entry.id] = entry
    return entry


def log_time_seeded(standin: RedmineStandin, d: dict[str, Any]) -> m.TimeEntry:
    issue = standin.issues[int(d["issue_id"])]
    user = standin.user(d.get("user", "bridgebot"))
    moment = _when(d.get("created_on"))
    entry = m.TimeEntry(standin.taken("time_entry", d.get("id")), issue.project_id, issue.id, user.id,
                        standin.activity(d.get("activity", next(iter(standin.activities)))).id,
                        float(d["hours"]), d.get("comments", ""),
                        parse_date(d["spent_on"]) if d.get("spent_on") else moment.date(), moment, moment)
    standin.time_entries[entry.id] = entry
    return entry

"""What one fake Redmine holds: plain records, looked up by id in RedmineStandin.

Names follow Redmine's own tables (issue_statuses, trackers, roles, members, journals,
journal_details, time_entries, issue_relations, attachments), so that a reader who knows
Redmine finds the field they expect. Journal detail values are strings, as Redmine stores them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass
class Status:
    id: int
    name: str
    is_closed: bool = False


@dataclass
class Tracker:
    id: int
    name: str
    default_status_id: int
    description: str | None = None


@dataclass
class Role:
    """A role and its permissions, by Redmine's permission names (view_issues, edit_issues,
    add_issue_notes, view_private_notes, set_notes_private, view_time_entries, log_time,
    manage_subtasks, manage_issue_relations, add_issues)."""

    id: int
    name: str
    permissions: set[str] = field(default_factory=set)


@dataclass
class User:
    id: int
    login: str
    firstname: str
    lastname: str
    api_key: str | None
    admin: bool = False
    mail: str | None = None
    hide_mail: bool = True  # Redmine 5's default for new accounts
    status: int = 1  # 1 active, 3 locked: a locked user's key is refused
    created_on: datetime | None = None
    last_login_on: datetime | None = None

    @property
    def name(self) -> str:
        return f"{self.firstname} {self.lastname}".strip()


@dataclass
class Project:
    id: int
    identifier: str
    name: str
    description: str = ""
    homepage: str = ""
    is_public: bool = False
    tracker_ids: list[int] = field(default_factory=list)
    created_on: datetime | None = None


@dataclass
class Membership:
    id: int
    project_id: int
    user_id: int
    role_ids: list[int]


@dataclass
class CustomField:
    id: int
    name: str
    tracker_ids: list[int] = field(default_factory=list)  # empty: every tracker
    regexp: str | None = None  # a value must match it (else 422 "<name> is invalid")


@dataclass
class Enumeration:
    """An issue priority or a time entry activity."""

    id: int
    name: str
    is_default: bool = False
    active: bool = True


@dataclass
class Detail:
    property: str  # attr, cf, attachment, relation
    name: str  # the attribute, custom field id, attachment id or relation type
    old_value: str | None
    new_value: str | None
    id: int = 0


@dataclass
class Journal:
    id: int | None  # None: built for an edit that changed nothing, never saved
    issue_id: int
    user_id: int
    notes: str | None
    created_on: datetime | None
    private_notes: bool = False
    details: list[Detail] = field(default_factory=list)


@dataclass
class Attachment:
    id: int
    issue_id: int
    filename: str
    filesize: int
    content_type: str | None
    description: str | None
    author_id: int
    created_on: datetime


@dataclass
class Relation:
    id: int
    issue_from_id: int
    issue_to_id: int
    relation_type: str
    delay: int | None = None


@dataclass
class TimeEntry:
    id: int
    project_id: int
    issue_id: int | None
    user_id: int
    activity_id: int
    hours: float
    comments: str
    spent_on: date
    created_on: datetime
    updated_on: datetime


@dataclass
class Issue:
    id: int
    project_id: int
    tracker_id: int
    status_id: int
    priority_id: int
    author_id: int
    subject: str
    created_on: datetime
    updated_on: datetime
    description: str | None = None
    assigned_to_id: int | None = None
    parent_id: int | None = None
    start_date: date | None = None
    due_date: date | None = None
    done_ratio: int = 0
    is_private: bool = False
    estimated_hours: float | None = None
    closed_on: datetime | None = None
    lock_version: int = 0
    custom_values: dict[int, Any] = field(default_factory=dict)
    journals: list[Journal] = field(default_factory=list)
    attachment_ids: list[int] = field(default_factory=list)
    watcher_ids: list[int] = field(default_factory=list)

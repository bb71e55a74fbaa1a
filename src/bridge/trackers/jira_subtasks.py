"""A Jira issue's sub-tasks and parent, as the core's `TaskRef`s.

Jira lists an issue's sub-tasks in `fields.subtasks`, each with its key, summary and status,
the status with its `statusCategory`; a sub-task names its parent in `fields.parent` in the
same shape, with the parent's issue type. So the one read of a ticket the judge makes tells
which of its tasks are open, with no call per sub-task, and a sub-task's delivery tells
which ticket and workflow it belongs to. A status is done when Jira puts it in the Done
category (`statusCategory.key == "done"`, the green one), whatever the site calls it.

Pure and total, like `jira_parsing`, which reads a delivery's snapshot through it: an entry
that is not shaped like Jira's is left out rather than raising, and texts are bounded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bridge.engine.model import KEY_LENGTH, NAME_LENGTH, TaskRef, Ticket

DONE_CATEGORY = "done"
# Jira's issue key, as `jira_parsing.ISSUE_KEY`: the parent's is put into a REST path.
_KEY = re.compile(r"[A-Z][A-Z0-9_]*-[1-9][0-9]*", re.IGNORECASE | re.ASCII)


def with_family(ticket: Ticket, fields: Mapping[str, Any]) -> Ticket:
    """`ticket` with the sub-tasks and the parent its Jira `fields` name."""
    return replace(ticket, subtasks=subtasks_of(fields), parent=task_ref(fields.get("parent")))


def subtasks_of(fields: Mapping[str, Any]) -> tuple[TaskRef, ...] | None:
    """The sub-tasks in Jira's order; None where the fields do not list them (not asked
    for, or sub-tasks turned off on the site)."""
    listed = fields.get("subtasks")
    if not isinstance(listed, list):
        return None
    return tuple(ref for ref in map(task_ref, listed) if ref is not None)


def task_ref(value: Any) -> TaskRef | None:
    """One issue as Jira names another (`{key, fields: {summary, status, issuetype}}`)."""
    if not isinstance(value, Mapping):
        return None
    key = value.get("key")
    if not isinstance(key, str) or len(key) > KEY_LENGTH or not _KEY.fullmatch(key):
        return None
    fields = value.get("fields") if isinstance(value.get("fields"), Mapping) else {}
    status = fields.get("status") if isinstance(fields.get("status"), Mapping) else {}
    category = status.get("statusCategory") if isinstance(status.get("statusCategory"), Mapping) else {}
    issue_type = _text(fields.get("issuetype").get("name")) if isinstance(fields.get("issuetype"), Mapping) else None
    return TaskRef(
        key,
        _text(fields.get("summary")) or "",
        _text(status.get("name")) or "",
        category.get("key") == DONE_CATEGORY,
        issue_type,
    )


def _text(value: Any) -> str | None:
    return value[:NAME_LENGTH].replace("\x00", "") if isinstance(value, str) else None

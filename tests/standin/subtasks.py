"""Sub-tasks as Jira shapes them: an issue of a sub-task type names its parent in
`fields.parent`, and the parent lists each of its sub-tasks in `fields.subtasks` with key,
summary, priority, issue type and status, the status with its category. Both are worked out
from the issues as they are now, so a sub-task moved is listed in its new status at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .state import Issue, JiraStandin

SUBTASK_TYPE = {"id": "10003", "name": "Sub-task", "subtask": True}


def issuetype(data: dict[str, Any]) -> dict[str, Any] | None:
    """The issue type of a seeded sub-task (one with a `parent`) given by name, or None."""
    name = data.get("issuetype")
    if "parent" not in data or isinstance(name, dict):
        return None
    return {**SUBTASK_TYPE, **({"name": name} if name else {})}


def fields_json(standin: JiraStandin, issue: Issue, base: str) -> dict[str, Any]:
    """`subtasks` (of every issue: [] when it has none) and `parent` (of a sub-task)."""
    found = {"subtasks": [ref_json(standin, child, base) for child in standin.issues.values()
                          if child.parent == issue.key]}
    parent = standin.issues.get(issue.parent) if issue.parent else None
    if parent is not None:
        found["parent"] = ref_json(standin, parent, base)
    return found


def ref_json(standin: JiraStandin, issue: Issue, base: str) -> dict[str, Any]:
    """An issue as Jira names it from another one."""
    fields = issue.fields
    return {"id": issue.id, "key": issue.key, "self": f"{base}/rest/api/2/issue/{issue.id}",
            "fields": {"summary": fields.get("summary"), "status": standin.status_json(issue.status, base),
                       "priority": fields.get("priority"), "issuetype": fields.get("issuetype")}}

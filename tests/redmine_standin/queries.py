"""GET /issues.json and GET /time_entries.json: Redmine's filters, sorting and paging.

Issue filters as Redmine reads a query string (its `add_short_filter`): `status_id` is
`open` by default (closed issues are left out unless asked for), `closed`, `*`, ids joined by
`|`, or `!` ids; `tracker_id` ids joined by `|` or `!` ids; `issue_id=1,2,3`;
`parent_id=5` (children) or `~5` (every descendant); `updated_on` / `created_on` as `>=T`,
`<=T`, `><T1|T2` or a day, compared in whole seconds; `assigned_to_id`, `author_id` (`me`
allowed). A value Redmine finds invalid answers 422 `{"errors": ["Updated is invalid"]}`.
`project_id` (id or identifier) scopes the list to a project; an unknown one is 404.
`sort=updated_on:desc,id` with ties broken by id descending, as Redmine appends `id DESC`.
`limit` is 25 by default and at most 100, `offset` (or `page`) where the page starts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import model as m
from .changes import Forbidden, Invalid
from .times import filter_bound, parse_date, whole_seconds

if TYPE_CHECKING:
    from .state import RedmineStandin

LABELS = {"updated_on": "Updated", "created_on": "Created", "closed_on": "Closed", "issue_id": "Issue",
          "status_id": "Status", "tracker_id": "Tracker", "parent_id": "Parent task",
          "assigned_to_id": "Assignee", "author_id": "Author"}
SORTABLE = {"id": lambda i: i.id, "updated_on": lambda i: whole_seconds(i.updated_on),
            "created_on": lambda i: whole_seconds(i.created_on), "status": lambda i: i.status_id,
            "priority": lambda i: i.priority_id, "tracker": lambda i: i.tracker_id,
            "subject": lambda i: i.subject.casefold(), "start_date": lambda i: (i.start_date is not None, i.start_date),
            "due_date": lambda i: (i.due_date is not None, i.due_date),
            "closed_on": lambda i: (i.closed_on is not None, i.closed_on and whole_seconds(i.closed_on))}


class NotFound(Exception):
    """404 with an empty body."""


def offset_and_limit(query: dict[str, str]) -> tuple[int, int]:
    """Redmine's api_offset_and_limit."""
    limit = _to_int(query.get("limit"))
    limit = 25 if limit < 1 else min(limit, 100)
    if query.get("offset"):
        return max(_to_int(query["offset"]), 0), limit
    if query.get("page"):
        return max((_to_int(query["page"]) - 1) * limit, 0), limit
    return 0, limit


def _to_int(text: str | None) -> int:
    found = re.match(r"\s*[+-]?\d+", text or "")
    return int(found.group()) if found else 0


def issues(standin: RedmineStandin, viewer: m.User, query: dict[str, str]) -> tuple[list[m.Issue], int, int, int]:
    """The page of issues a query asks for: (issues, total_count, offset, limit)."""
    tests = _issue_filters(standin, viewer, query)
    seen = {p for p in standin.projects if standin.allowed(viewer, "view_issues", p)}
    found = [i for i in standin.issues.values() if i.project_id in seen and all(t(i) for t in tests)]
    found.sort(key=lambda i: i.id, reverse=True)
    criteria = [c.split(":") for c in query.get("sort", "").split(",") if c]
    for name, *direction in reversed(criteria):
        if name in SORTABLE:
            found.sort(key=SORTABLE[name], reverse=(direction or ["asc"])[0].lower() == "desc")
    offset, limit = offset_and_limit(query)
    return found[offset:offset + limit], len(found), offset, limit


def _issue_filters(standin: RedmineStandin, viewer: m.User, query: dict[str, str]) -> list[Callable[[m.Issue], bool]]:
    tests: list[Callable[[m.Issue], bool]] = []
    errors: list[str] = []
    if query.get("project_id"):
        project = standin.project(query["project_id"])
        if project is None:
            raise NotFound()
        if not (project.is_public or viewer.admin or standin.roles_of(viewer, project.id)):
            raise Forbidden()
        tests.append(lambda i: i.project_id == project.id)
    status = query.get("status_id", "open")
    closed = {s.id for s in standin.statuses.values() if s.is_closed}
    if status.startswith("o"):
        tests.append(lambda i: i.status_id not in closed)
    elif status.startswith("c"):
        tests.append(lambda i: i.status_id in closed)
    elif status != "*":
        tests.append(_ids("status_id", status, errors))
    if query.get("tracker_id"):
        tests.append(_ids("tracker_id", query["tracker_id"], errors))
    for name in ("assigned_to_id", "author_id"):
        if query.get(name):
            tests.append(_ids(name, query[name].replace("me", str(viewer.id)), errors))
    if query.get("issue_id"):
        text = query["issue_id"]
        if not re.fullmatch(r"[+-]?\d+(,[+-]?\d+)*", text):
            errors.append("Issue is invalid")
        wanted = {int(x) for x in re.findall(r"[+-]?\d+", text)}
        tests.append(lambda i: i.id in wanted)
    if query.get("parent_id"):
        tests.append(_parent(standin, query["parent_id"], errors))
    for name in ("updated_on", "created_on", "closed_on"):
        if query.get(name):
            tests.append(_moment(name, query[name], errors))
    if errors:
        raise Invalid(*errors)
    return tests


def _ids(name: str, text: str, errors: list[str]) -> Callable[[m.Issue], bool]:
    negate = text.startswith("!")
    values = text[1:] if negate else text.lstrip("=")
    parts = values.split("|")
    if not all(p.strip().isdigit() for p in parts):
        errors.append(f"{LABELS[name]} is invalid")
    wanted = {int(p) for p in parts if p.strip().isdigit()}
    return lambda i: (getattr(i, name) in wanted) != negate


def _parent(standin: RedmineStandin, text: str, errors: list[str]) -> Callable[[m.Issue], bool]:
    deep = text.startswith("~")
    value = text.lstrip("~=")
    if not value.isdigit():
        errors.append("Parent task is invalid")
        return lambda i: False
    parent = int(value)
    if deep:
        below = {d.id for d in standin.descendants(standin.issues[parent])} if parent in standin.issues else set()
        return lambda i: i.id in below
    return lambda i: i.parent_id == parent


def _moment(name: str, text: str, errors: list[str]) -> Callable[[m.Issue], bool]:
    """`>=T`, `<=T`, `><T1|T2` or a day; Redmine compares `> T - 1s` and `<= T`."""
    operator = next((op for op in ("><", ">=", "<=") if text.startswith(op)), "=")
    values = text[len(operator):].split("|") if operator != "=" else [text]
    low = high = None
    if operator in (">=", "><"):
        low = filter_bound(values[0], upper=False)
    if operator == "<=":
        high = filter_bound(values[0], upper=True)
    if operator == "><":
        high = filter_bound(values[1], upper=True) if len(values) > 1 else None
    if operator == "=":
        low, high = filter_bound(values[0], upper=False), filter_bound(values[0], upper=True)
    if (operator in (">=", "><", "=") and low is None) or (operator in ("<=", "><", "=") and high is None):
        errors.append(f"{LABELS[name]} is invalid")
        return lambda i: False

    def test(issue: m.Issue) -> bool:
        moment = getattr(issue, name)
        if moment is None:
            return False
        moment = whole_seconds(moment)
        return (low is None or moment >= low) and (high is None or moment <= high)

    return test


def time_entries(standin: RedmineStandin, viewer: m.User, query: dict[str, Any]) -> tuple[list[m.TimeEntry], int, int, int]:
    """GET /time_entries.json: `issue_id` (404 if there is none; `~id` with sub-tasks),
    `project_id`, `user_id`, `from`/`to` on spent_on; spent_on, then creation, newest first."""
    tests: list[Callable[[m.TimeEntry], bool]] = []
    issue_text = query.get("issue_id", "")
    if issue_text:
        deep = issue_text.startswith("~")
        ident = issue_text.lstrip("~=")
        issue = standin.issues.get(int(ident)) if ident.isdigit() else None
        if issue is None:
            raise NotFound()
        family = {issue.id, *(d.id for d in standin.descendants(issue))} if deep else {issue.id}
        tests.append(lambda e: e.issue_id in family)
    if query.get("project_id"):
        project = standin.project(query["project_id"])
        if project is None:
            raise NotFound()
        tests.append(lambda e: e.project_id == project.id)
    if query.get("user_id"):
        wanted = {int(x) for x in query["user_id"].replace("me", str(viewer.id)).split("|") if x.isdigit()}
        tests.append(lambda e: e.user_id in wanted)
    for name, keep in (("from", lambda e, d: e.spent_on >= d), ("to", lambda e, d: e.spent_on <= d)):
        if query.get(name):
            try:
                day = parse_date(query[name])
            except ValueError:
                raise Invalid("Date is invalid") from None
            tests.append(lambda e, day=day, keep=keep: keep(e, day))
    found = [e for e in standin.time_entries.values()
             if standin.allowed(viewer, "view_time_entries", e.project_id) and all(t(e) for t in tests)]
    found.sort(key=lambda e: (e.spent_on, e.created_on, e.id), reverse=True)
    offset, limit = offset_and_limit(query)
    return found[offset:offset + limit], len(found), offset, limit

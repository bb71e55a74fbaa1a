"""Redmine's REST API as the stand-in answers it, refusals included.

Authentication is Redmine's: the `X-Redmine-API-Key` header, the `key` query parameter, or
HTTP Basic with the key as user name; an admin may act as another user with
`X-Redmine-Switch-User` (412 for an unknown one). The stand-in is a Redmine that requires a
login, so a missing or unknown key (or a locked user's) answers 401 with an empty body.
Redmine's other bare refusals have empty bodies too: 403 (the roles do not allow it), 404 (no
such issue, project or attachment). Invalid values answer 422 `{"errors": [...]}`. A body is
read only as `application/json`; with another content type Redmine sees no parameters at
all, so a PUT changes nothing and still answers 204.

A path the stand-in does not serve answers 501 with a message saying so, so that a test
notices the gap instead of passing against an invented endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.standin.faults import take_fault

from . import changes, queries, shapes, webhooks
from . import model as m
from .faults import fault_page

if TYPE_CHECKING:
    from .state import RedmineStandin

Answer = tuple[int, Any, dict[str, str]]
CHALLENGE = {"WWW-Authenticate": 'Basic realm="Redmine API"'}
NOT_JSON = object()


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    raw: bytes
    content_type: str | None
    headers: dict[str, str]  # lower-case names
    base: str
    user: m.User | None = None
    params: dict[str, str] | None = None

    def body(self) -> Any:
        """The parameters Redmine reads: the JSON body, {} for another content type."""
        if not (self.content_type or "").split(";")[0].strip().lower().endswith("json"):
            return {}
        if not self.raw.strip():
            return {}
        try:
            return json.loads(self.raw)
        except ValueError:
            return NOT_JSON

    def section(self, name: str) -> dict[str, Any]:
        body = self.body()
        value = body.get(name) if isinstance(body, dict) else None
        return value if isinstance(value, dict) else {}

    @property
    def who(self) -> m.User:
        """The acting user, once authenticated."""
        assert self.user is not None
        return self.user

    def param(self, name: str) -> str:
        assert self.params is not None
        return self.params[name]

    @property
    def include(self) -> set[str]:
        return {part.strip() for part in self.query.get("include", "").split(",") if part.strip()}

    @property
    def nometa(self) -> bool:
        return bool(self.query.get("nometa")) or "x-redmine-nometa" in self.headers

    @property
    def skip_webhooks(self) -> bool:
        return "x-skip-webhooks" in self.headers


def authenticate(standin: RedmineStandin, call: Call) -> m.User | int:
    """The acting user, or the status refusing the call (401, 412)."""
    key = call.headers.get("x-redmine-api-key") or call.query.get("key")
    scheme, _, encoded = call.headers.get("authorization", "").partition(" ")
    if not key and scheme.lower() == "basic":
        try:
            key = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            key = None
    user = standin.user_by_key(key)
    if user is None:
        return 401
    switch = call.headers.get("x-redmine-switch-user")
    if user.admin and switch:
        other = standin.user(switch)
        if other is None or other.status != 1 or switch.isdigit():
            return 412
        user = other
    return user


async def answer(standin: RedmineStandin, call: Call) -> Answer:
    """Answer one REST call as Redmine would: (status, body, headers); the body is JSON,
    an HTML page (a fault) or None."""
    fault = take_fault(standin.faults, call.method, call.path)
    if fault and fault.delay_ms:
        await asyncio.sleep(fault.delay_ms / 1000)
    if fault and fault.status:
        return fault_page(fault)  # type: ignore[arg-type]
    user = authenticate(standin, call)
    if isinstance(user, int):
        return user, None, CHALLENGE if user == 401 else {}
    call.user = user
    result = route(standin, call)
    if fault and fault.late_ms:  # done; the answer comes after the client gave up
        await asyncio.sleep(fault.late_ms / 1000)
    return result


def route(standin: RedmineStandin, call: Call) -> Answer:
    for method, pattern, handler in ROUTES:
        found = re.fullmatch(pattern, call.path)
        if found and method == call.method:
            if call.body() is NOT_JSON:
                return 400, None, {}
            call.params = found.groupdict()
            try:
                return handler(standin, call)
            except changes.Invalid as exc:
                return 422, {"errors": exc.messages}, {}
            except changes.Forbidden:
                return 403, None, {}
            except queries.NotFound:
                return 404, None, {}
    return 501, {"errors": [f"The Redmine stand-in does not implement {call.method} {call.path}."]}, {}


def _page(call: Call, name: str, items: list[Any], total: int, offset: int, limit: int) -> Answer:
    if call.nometa:
        return 200, {name: items}, {}
    return 200, shapes.page(name, items, total, offset, limit), {}


def _issue_of(standin: RedmineStandin, call: Call) -> m.Issue:
    issue = standin.issues.get(int(call.param("id")))
    if issue is None:
        raise queries.NotFound()
    if not standin.visible(issue, call.who):
        raise changes.Forbidden()
    return issue


def _project_of(standin: RedmineStandin, call: Call) -> m.Project:
    project = standin.project(call.param("project"))
    if project is None:
        raise queries.NotFound()
    user = call.who
    if not (project.is_public or user.admin or standin.roles_of(user, project.id)):
        raise changes.Forbidden()
    return project


# --- handlers ------------------------------------------------------------------------------
def _current_user(standin: RedmineStandin, call: Call) -> Answer:
    return 200, {"user": shapes.current_user_json(call.who)}, {}


def _statuses(standin: RedmineStandin, call: Call) -> Answer:
    return 200, {"issue_statuses": [shapes.status_json(s) for s in standin.statuses.values()]}, {}


def _trackers(standin: RedmineStandin, call: Call) -> Answer:
    return 200, {"trackers": [shapes.tracker_json(standin, t) for t in standin.trackers.values()]}, {}


def _activities(standin: RedmineStandin, call: Call) -> Answer:
    shown = [shapes.enumeration_json(a) for a in standin.activities.values() if a.active]
    return 200, {"time_entry_activities": shown}, {}


def _priorities(standin: RedmineStandin, call: Call) -> Answer:
    shown = [shapes.enumeration_json(p) for p in standin.priorities.values() if p.active]
    return 200, {"issue_priorities": shown}, {}


def _projects(standin: RedmineStandin, call: Call) -> Answer:
    user = call.who
    visible = [p for p in standin.projects.values()
               if p.is_public or user.admin or standin.roles_of(user, p.id)]
    offset, limit = queries.offset_and_limit(call.query)
    return _page(call, "projects", [shapes.project_json(p) for p in visible[offset:offset + limit]],
                 len(visible), offset, limit)


def _project(standin: RedmineStandin, call: Call) -> Answer:
    return 200, {"project": shapes.project_json(_project_of(standin, call))}, {}


def _memberships(standin: RedmineStandin, call: Call) -> Answer:
    project = _project_of(standin, call)
    members = [ms for ms in standin.memberships.values() if ms.project_id == project.id]
    offset, limit = queries.offset_and_limit(call.query)
    return _page(call, "memberships", [shapes.membership_json(standin, ms) for ms in members[offset:offset + limit]],
                 len(members), offset, limit)


def _issues(standin: RedmineStandin, call: Call) -> Answer:
    found, total, offset, limit = queries.issues(standin, call.who, call.query)
    include = call.include
    shown = [shapes.issue_json(standin, i, call.who, include, call.base, listed=True) for i in found]
    return _page(call, "issues", shown, total, offset, limit)


def _issue(standin: RedmineStandin, call: Call) -> Answer:
    issue = _issue_of(standin, call)
    return 200, {"issue": shapes.issue_json(standin, issue, call.who, call.include, call.base)}, {}


def _create_issue(standin: RedmineStandin, call: Call) -> Answer:
    issue = changes.create_issue(standin, call.who, call.section("issue"))
    if not call.skip_webhooks:
        webhooks.emit(standin, webhooks.opened(standin, issue, call.base))
    shown = shapes.issue_json(standin, issue, call.who, set(), call.base)
    return 201, {"issue": shown}, {"Location": f"{call.base}/issues/{issue.id}"}


def _update_issue(standin: RedmineStandin, call: Call) -> Answer:
    issue = _issue_of(standin, call)
    edit = changes.update_issue(standin, issue, call.who, call.section("issue"))
    if not call.skip_webhooks:
        webhooks.emit(standin, webhooks.updated(standin, issue, edit.journal, call.base))
    return 204, None, {}


def _relations(standin: RedmineStandin, call: Call) -> Answer:
    issue = _issue_of(standin, call)
    relations = shapes.relations_of(standin, issue, call.who)
    return 200, {"relations": [shapes.relation_json(r) for r in relations]}, {}


def _create_relation(standin: RedmineStandin, call: Call) -> Answer:
    issue = _issue_of(standin, call)
    relation = changes.relate(standin, issue, call.who, call.section("relation"))
    return 201, {"relation": shapes.relation_json(relation)}, {}


def _time_entries(standin: RedmineStandin, call: Call) -> Answer:
    found, total, offset, limit = queries.time_entries(standin, call.who, call.query)
    return _page(call, "time_entries", [shapes.time_entry_json(standin, e) for e in found], total, offset, limit)


def _log_time(standin: RedmineStandin, call: Call) -> Answer:
    entry = changes.log_time(standin, call.who, call.section("time_entry"))
    return 201, {"time_entry": shapes.time_entry_json(standin, entry)}, {"Location": f"{call.base}/time_entries/{entry.id}"}


def _attachment_of(standin: RedmineStandin, call: Call) -> m.Attachment:
    attachment = standin.attachments.get(int(call.param("id")))
    if attachment is None:
        raise queries.NotFound()
    if not standin.visible(standin.issues[attachment.issue_id], call.who):
        raise changes.Forbidden()
    return attachment


def _attachment(standin: RedmineStandin, call: Call) -> Answer:
    return 200, {"attachment": shapes.attachment_json(standin, _attachment_of(standin, call), call.base)}, {}


def _delete_attachment(standin: RedmineStandin, call: Call) -> Answer:
    changes.delete_attachment(standin, _attachment_of(standin, call), call.who)
    return 204, None, {}


Handler = Callable[["RedmineStandin", Call], Answer]
ID = r"(?P<id>\d+)"
PROJECT = r"(?P<project>[^/]+)"
ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", r"/users/current\.json", _current_user),
    ("GET", r"/issue_statuses\.json", _statuses),
    ("GET", r"/trackers\.json", _trackers),
    ("GET", r"/enumerations/time_entry_activities\.json", _activities),
    ("GET", r"/enumerations/issue_priorities\.json", _priorities),
    ("GET", r"/projects\.json", _projects),
    ("GET", rf"/projects/{PROJECT}\.json", _project),
    ("GET", rf"/projects/{PROJECT}/memberships\.json", _memberships),
    ("GET", r"/issues\.json", _issues),
    ("POST", r"/issues\.json", _create_issue),
    ("GET", rf"/issues/{ID}\.json", _issue),
    ("PUT", rf"/issues/{ID}\.json", _update_issue),
    ("GET", rf"/issues/{ID}/relations\.json", _relations),
    ("POST", rf"/issues/{ID}/relations\.json", _create_relation),
    ("GET", r"/time_entries\.json", _time_entries),
    ("POST", r"/time_entries\.json", _log_time),
    ("GET", rf"/attachments/{ID}\.json", _attachment),
    ("DELETE", rf"/attachments/{ID}\.json", _delete_attachment),
]

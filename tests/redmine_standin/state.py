"""The state of one fake Redmine: its records, who may do what, and what it saw.

Permissions and workflows are Redmine's, reduced to what a support tracker uses: a user's
roles in a project (an admin counts as holding every role and every permission), role
permissions by Redmine's names, and the per-role workflow table (tracker, role, from status) →
allowed statuses, from which Redmine computes the statuses a user may set. A status change
outside them is dropped without a word (the edit still answers 204), as Redmine does.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import httpx

from tests.standin.faults import Fault

from . import faults, webhooks
from . import model as m
from .changes import log_time_seeded, relate_seeded, seed_issue
from .seed import BRIDGE_KEY, default_seed
from .times import parse_time

SECTIONS = ("statuses", "trackers", "priorities", "activities", "custom_fields", "roles", "users",
            "projects", "memberships", "workflows", "issues", "relations", "time_entries")


class RedmineStandin:
    """One Redmine; `create_app(standin)` serves it over HTTP.

    `key`: bridgebot's API key on every reset that does not name another. `transport`
    replaces the network for webhook deliveries (an httpx.MockTransport in tests)."""

    def __init__(self, *, key: str | None = None, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.key = key or BRIDGE_KEY
        self.transport = transport
        self.pending: set[asyncio.Task[None]] = set()
        self.load({})

    def reset(self) -> None:
        self.statuses: dict[int, m.Status] = {}
        self.trackers: dict[int, m.Tracker] = {}
        self.tracker_status_ids: dict[int, list[int]] = {}
        self.priorities: dict[int, m.Enumeration] = {}
        self.activities: dict[int, m.Enumeration] = {}
        self.custom_fields: dict[int, m.CustomField] = {}
        self.roles: dict[int, m.Role] = {}
        self.users: dict[int, m.User] = {}
        self.projects: dict[int, m.Project] = {}
        self.memberships: dict[int, m.Membership] = {}
        self.workflow: dict[tuple[int, int, int], set[int]] = defaultdict(set)
        self.issues: dict[int, m.Issue] = {}
        self.children: dict[int, list[int]] = defaultdict(list)
        self.attachments: dict[int, m.Attachment] = {}
        self.relations: dict[int, m.Relation] = {}
        self.time_entries: dict[int, m.TimeEntry] = {}
        self.webhook: dict[str, Any] | None = None
        self.deliveries: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.calls: list[dict[str, Any]] = []
        self._last: dict[str, int] = defaultdict(int)

    def load(self, seed: dict[str, Any]) -> None:
        """Reset to the default seed with `seed`'s sections in place of the default's (with
        `"default": false`, to nothing but them); `key` sets bridgebot's API key."""
        document = default_seed() if seed.get("default", True) else {}
        document.update({name: seed[name] for name in SECTIONS if name in seed})
        own = {u.get("login"): u for u in seed.get("users", [])}
        for user in document.get("users", []):
            if user.get("login") == "bridgebot" and ("key" in seed or not own.get("bridgebot", {}).get("api_key")):
                user["api_key"] = seed.get("key", self.key)
        self.reset()
        self.add(document)
        self.faults.extend(faults.new_fault(f) for f in seed.get("faults", []))
        if seed.get("webhook"):
            webhooks.configure(self, **seed["webhook"])

    def add(self, document: dict[str, Any]) -> dict[str, list[int]]:
        """Add a seed document's records to what is there; answers the ids added by section."""
        added: dict[str, list[int]] = {}
        makers = {
            "statuses": self._status, "trackers": self._tracker, "priorities": self._priority,
            "activities": self._activity, "custom_fields": self._custom_field, "roles": self._role,
            "users": self._user, "projects": self._project, "memberships": self._membership,
            "workflows": self._workflow,
            "issues": lambda d: seed_issue(self, d).id,
            "relations": lambda d: relate_seeded(self, d).id,
            "time_entries": lambda d: log_time_seeded(self, d).id,
        }
        for section in SECTIONS:
            if section in document:
                added[section] = [makers[section](item) for item in document[section]]
        return added

    # --- ids -------------------------------------------------------------------------------
    def next_id(self, kind: str) -> int:
        self._last[kind] += 1
        return self._last[kind]

    def taken(self, kind: str, ident: Any) -> int:
        ident = int(ident) if ident is not None else self.next_id(kind)
        self._last[kind] = max(self._last[kind], ident)
        return ident

    # --- seeding ---------------------------------------------------------------------------
    def _status(self, d: dict[str, Any]) -> int:
        s = m.Status(self.taken("status", d.get("id")), d["name"], bool(d.get("is_closed", False)))
        self.statuses[s.id] = s
        return s.id

    def _tracker(self, d: dict[str, Any]) -> int:
        default = self.status(d.get("default_status", next(iter(self.statuses), None)))
        t = m.Tracker(self.taken("tracker", d.get("id")), d["name"], default.id, d.get("description"))
        self.trackers[t.id] = t
        self.tracker_status_ids[t.id] = [default.id]
        return t.id

    def _priority(self, d: dict[str, Any]) -> int:
        e = m.Enumeration(self.taken("enumeration", d.get("id")), d["name"], bool(d.get("is_default")),
                          bool(d.get("active", True)))
        self.priorities[e.id] = e
        return e.id

    def _activity(self, d: dict[str, Any]) -> int:
        e = m.Enumeration(self.taken("enumeration", d.get("id")), d["name"], bool(d.get("is_default")),
                          bool(d.get("active", True)))
        self.activities[e.id] = e
        return e.id

    def _custom_field(self, d: dict[str, Any]) -> int:
        f = m.CustomField(self.taken("custom_field", d.get("id")), d["name"],
                          [self.tracker(t).id for t in d.get("trackers", [])], d.get("regexp"))
        self.custom_fields[f.id] = f
        return f.id

    def _role(self, d: dict[str, Any]) -> int:
        r = m.Role(self.taken("role", d.get("id")), d["name"], set(d.get("permissions", [])))
        self.roles[r.id] = r
        return r.id

    def _user(self, d: dict[str, Any]) -> int:
        created = parse_time(d["created_on"]) if d.get("created_on") else parse_time("2026-11-24T16:01:20Z")
        u = m.User(self.taken("user", d.get("id")), d["login"], d.get("firstname", d["login"]),
                   d.get("lastname", ""), d.get("api_key"), bool(d.get("admin", False)), d.get("mail"),
                   bool(d.get("hide_mail", True)), 3 if d.get("locked") else 1, created)
        if any(other.login == u.login for other in self.users.values()):
            raise ValueError(f"user {u.login!r} exists already")
        self.users[u.id] = u
        return u.id

    def _project(self, d: dict[str, Any]) -> int:
        p = m.Project(self.taken("project", d.get("id")), d["identifier"], d.get("name", d["identifier"]),
                      d.get("description", ""), d.get("homepage", ""), bool(d.get("is_public", False)),
                      [self.tracker(t).id for t in d.get("trackers", list(self.trackers))],
                      parse_time(d["created_on"]) if d.get("created_on") else parse_time("2026-11-24T16:01:10Z"))
        self.projects[p.id] = p
        return p.id

    def _membership(self, d: dict[str, Any]) -> int:
        project, user = self.project(d["project"]), self.user(d["user"])
        if project is None or user is None:
            raise ValueError(f"no project {d['project']!r} or no user {d['user']!r}")
        for existing in self.memberships.values():
            if (existing.project_id, existing.user_id) == (project.id, user.id):
                existing.role_ids = sorted({*existing.role_ids, *(self.role(r).id for r in d["roles"])})
                return existing.id
        ms = m.Membership(self.taken("membership", d.get("id")), project.id, user.id,
                          [self.role(r).id for r in d["roles"]])
        self.memberships[ms.id] = ms
        return ms.id

    def _workflow(self, d: dict[str, Any]) -> int:
        """`{"tracker", "role", "transitions": {from: [to, …]}, "replace": false}`: with
        replace, the role's transitions on the tracker are these only."""
        tracker, role = self.tracker(d["tracker"]), self.role(d["role"])
        if d.get("replace"):
            for key in [k for k in self.workflow if k[:2] == (tracker.id, role.id)]:
                del self.workflow[key]
        known = self.tracker_status_ids[tracker.id]
        for source, targets in d.get("transitions", {}).items():
            start = self.status(source)
            for target in targets:
                end = self.status(target)
                self.workflow[(tracker.id, role.id, start.id)].add(end.id)
                known.extend(s for s in (start.id, end.id) if s not in known)
        return tracker.id

    # --- lookups ---------------------------------------------------------------------------
    @staticmethod
    def _find(records: dict[int, Any], ref: Any, *names: str) -> Any:
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            return records.get(int(ref))
        for record in records.values():
            if any(str(getattr(record, n)).casefold() == str(ref).casefold() for n in names):
                return record
        return None

    def _need(self, found: Any, what: str, ref: Any) -> Any:
        if found is None:
            raise ValueError(f"no {what} {ref!r}")
        return found

    def status(self, ref: Any) -> m.Status:
        return self._need(self._find(self.statuses, ref, "name"), "status", ref)

    def tracker(self, ref: Any) -> m.Tracker:
        return self._need(self._find(self.trackers, ref, "name"), "tracker", ref)

    def role(self, ref: Any) -> m.Role:
        return self._need(self._find(self.roles, ref, "name"), "role", ref)

    def activity(self, ref: Any) -> m.Enumeration:
        return self._need(self._find(self.activities, ref, "name"), "activity", ref)

    def priority(self, ref: Any) -> m.Enumeration:
        return self._need(self._find(self.priorities, ref, "name"), "priority", ref)

    def custom_field(self, ref: Any) -> m.CustomField:
        return self._need(self._find(self.custom_fields, ref, "name"), "custom field", ref)

    def user(self, ref: Any) -> m.User | None:
        return self._find(self.users, ref, "login")

    def project(self, ref: Any) -> m.Project | None:
        return self._find(self.projects, ref, "identifier")

    def user_by_key(self, key: str | None) -> m.User | None:
        if not key:
            return None
        return next((u for u in self.users.values() if u.api_key == key and u.status == 1), None)

    def default_priority(self) -> m.Enumeration:
        return next((p for p in self.priorities.values() if p.is_default), next(iter(self.priorities.values())))

    def fields_of(self, issue: m.Issue) -> list[m.CustomField]:
        """The custom fields an issue of its tracker carries."""
        return [f for f in self.custom_fields.values() if not f.tracker_ids or issue.tracker_id in f.tracker_ids]

    # --- who may do what -------------------------------------------------------------------
    def roles_of(self, user: m.User, project_id: int) -> list[m.Role]:
        if user.admin:
            return list(self.roles.values())
        ids = {r for ms in self.memberships.values() if (ms.project_id, ms.user_id) == (project_id, user.id)
               for r in ms.role_ids}
        return [self.roles[r] for r in sorted(ids) if r in self.roles]

    def allowed(self, user: m.User, permission: str, project_id: int) -> bool:
        if user.admin:
            return True
        return any(permission in role.permissions for role in self.roles_of(user, project_id))

    def visible(self, issue: m.Issue, user: m.User) -> bool:
        return self.allowed(user, "view_issues", issue.project_id)

    def descendants(self, issue: m.Issue) -> list[m.Issue]:
        found, queue = [], list(self.children.get(issue.id, []))
        while queue:
            child = self.issues[queue.pop(0)]
            found.append(child)
            queue.extend(self.children.get(child.id, []))
        return found

    def ancestors(self, issue: m.Issue) -> list[m.Issue]:
        found, current = [], issue
        while current.parent_id is not None:
            current = self.issues[current.parent_id]
            found.append(current)
        return found

    def closed(self, issue: m.Issue) -> bool:
        return self.statuses[issue.status_id].is_closed

    def closable(self, issue: m.Issue) -> bool:
        """Not with an open sub-task, not while an open issue blocks it."""
        if any(not self.closed(d) for d in self.descendants(issue)):
            return False
        return not any(r.relation_type == "blocks" and r.issue_to_id == issue.id
                       and not self.closed(self.issues[r.issue_from_id]) for r in self.relations.values())

    def reopenable(self, issue: m.Issue) -> bool:
        """Not a sub-task of a closed parent."""
        return not any(self.closed(a) for a in self.ancestors(issue))

    def statuses_allowed(self, issue: m.Issue, user: m.User, from_status: int | None = None) -> list[m.Status]:
        """Redmine's new_statuses_allowed_to: the transitions of the user's roles (every role for
        an admin) from the issue's status, with that status itself if there are any."""
        start = issue.status_id if from_status is None else from_status
        ids: set[int] = set()
        for role in self.roles_of(user, issue.project_id):
            ids |= self.workflow.get((issue.tracker_id, role.id, start), set())
        if ids:
            ids.add(start)
        found = [self.statuses[i] for i in sorted(ids) if i in self.statuses]
        if not self.closable(issue):
            found = [s for s in found if not s.is_closed]
        if not self.reopenable(issue):
            found = [s for s in found if s.is_closed]
        return found

    async def drain(self) -> None:
        """Wait until every webhook delivery started so far has finished."""
        while self.pending:
            await asyncio.gather(*self.pending, return_exceptions=True)

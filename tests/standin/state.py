"""The state of one fake Jira site, the JSON shapes Jira shows it in, and its webhook deliveries."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

import httpx

from . import attachments, links, subtasks, worklogs
from .faults import Fault, new_fault, take_fault
from .history import Change, seeded, state_json
from .sending import deliver
from .times import DEFAULT_ZONE, jira_time, now, parse_time, zone

INTERNAL_COMMENT_PROPERTY = "sd.public.comment"
STATUS_CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow",
                      "name": "In Progress"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
}
# Ids as in the recorded deliveries under tests/fixtures/jira/.
DEFAULT_STATUSES = {
    "Nový": "10100", "Realizace": "10102", "Na klientovi": "10104", "Ke schválení": "10105",
    "Schváleno": "10107", "Hotovo": "10108", "Waiting for support": "10206",
    "Waiting for approval": "10207",
}
ISSUE_TYPE_IDS = {"Servis": "10005", "[System] Service request": "10002"}
DEFAULT_ACCOUNT = {
    "accountId": "5f2a9c0d1e7b4a00694b7e21", "accountType": "atlassian", "name": "ticket-bridge",
    "key": "JIRAUSER10001", "displayName": "Ticket Bridge", "emailAddress": "bridge@example.com",
}


@dataclass
class Issue:
    id: str
    key: str
    status: str
    fields: dict[str, Any]
    transitions: dict[str, list[dict[str, str]]] | None
    comments: list[dict[str, Any]]
    history: list[Change]  # its status changes, oldest first
    worklogs: list[worklogs.Worklog] = field(default_factory=list)  # by when logged
    organizations: list[str] = field(default_factory=list)  # names, in the organisations field
    reporter: dict[str, Any] | None = None  # a seeded user, shown as this deployment shows users
    attachments: list[attachments.Attachment] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)  # entity properties, by key
    parent: str | None = None  # the key of the issue this one is a sub-task of


class JiraStandin:
    """The state of one fake Jira site; `create_app(standin)` serves it over HTTP.

    `transport` replaces the network for webhook deliveries (an httpx.MockTransport in tests).
    """

    def __init__(self, *, deployment: str = "cloud",
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport
        self._pending: set[asyncio.Task[None]] = set()
        self.version = 0  # see changed()
        self.reset(deployment)

    def reset(self, deployment: str = "cloud", account: dict[str, Any] | None = None,
              credentials: list[str] | None = None) -> None:
        if deployment not in ("cloud", "datacenter"):
            raise ValueError(f"deployment must be cloud or datacenter, not {deployment!r}")
        self.deployment = deployment
        self.account = {**DEFAULT_ACCOUNT, **(account or {})}
        self.zone: tzinfo = zone(self.account.get("timeZone"))  # the account's: Jira answers in it
        self.credentials = list(credentials) if credentials else None
        self.statuses = {name: {"id": status_id, "category": "indeterminate"}
                         for name, status_id in DEFAULT_STATUSES.items()}
        self.workflow: dict[str, list[dict[str, str]]] = {}
        self.issues: dict[str, Issue] = {}
        self.links = links.LinkBook()
        self.comment_properties: dict[str, dict[str, Any]] = {}  # by comment id, then key
        self.denied_permissions: set[str] = set()  # the bridge account lacks these
        self.users: list[dict[str, Any]] = []
        self.organizations_field: str | None = "customfield_10002"  # None: no Service Management
        self.organization_ids: dict[str, str] = {}  # by name
        self.calls: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.webhook: dict[str, Any] | None = None
        self.deliveries: list[dict[str, Any]] = []
        self._seq = itertools.count(1)
        self.changed()

    def changed(self) -> None:
        """Count a change to what a search matches or orders by: an issue added, its status
        or its `updated` moved. Searches keep a query's hits while the count stays the same
        (search.py), so every such change is counted here."""
        self.version += 1

    def load(self, seed: dict[str, Any]) -> None:
        """Reset, then apply a seed: the document of --state-file and POST /_standin/reset."""
        self.reset(seed.get("deployment", "cloud"), seed.get("account"), seed.get("credentials"))
        self.set_workflow(seed.get("transitions", {}), seed.get("statuses", {}))
        self.organizations_field = seed.get("organizations_field", self.organizations_field)
        for issue in seed.get("issues", []):
            self.add_issue(issue)
        for user in seed.get("users", []):
            self.add_user(user)
        for fault in seed.get("faults", []):
            self.add_fault(fault)
        self.denied_permissions = set(seed.get("denied_permissions", []))
        if seed.get("webhook"):
            self.set_webhook(**seed["webhook"])

    # --- seeding -----------------------------------------------------------------------------
    def set_workflow(self, transitions: dict[str, list[dict[str, Any]]],
                     statuses: dict[str, Any] | None = None) -> None:
        """Add statuses ({name: id or {id, category}}) and the site-wide transition table.

        The table maps a status name (or "*" for global transitions) to [{id, name, to}].
        """
        for name, status in (statuses or {}).items():
            status = status if isinstance(status, dict) else {"id": status}
            category = status.get("category", "indeterminate")
            if category not in STATUS_CATEGORIES:
                raise ValueError(f"status category must be one of {sorted(STATUS_CATEGORIES)}")
            self.statuses[name] = {"id": str(status["id"]), "category": category}
        self.workflow.update(self._transition_table(transitions))

    def _transition_table(self, table: dict[str, list[dict[str, Any]]]) -> dict[str, list[Any]]:
        result = {}
        for source, transitions in table.items():
            result[source] = [{"id": str(t["id"]), "name": t.get("name", t["to"]), "to": t["to"]}
                              for t in transitions]
            for transition in result[source]:
                self.status(transition["to"])
        return result

    def add_issue(self, data: dict[str, Any]) -> Issue:
        """A ticket as a seed describes it; with `history` (oldest first, ending in its
        status) it was created at the first change and last updated at the last one, or at
        the last of its `worklogs` logged after. `reporter` is a user, `organizations` names;
        with `parent` (a key) it is a sub-task of that issue."""
        key = data["key"]
        self.set_workflow({}, data.get("statuses"))
        issuetype = subtasks.issuetype(data) or data.get("issuetype", "Servis")
        if not isinstance(issuetype, dict):
            issuetype = {"id": ISSUE_TYPE_IDS.get(issuetype, "10000"), "name": issuetype,
                         "subtask": False}
        project = data.get("project", key.split("-")[0])
        if not isinstance(project, dict):
            project = {"id": "10001", "key": project, "name": project}
        status = data.get("status", "Nový")
        history = seeded(self, data.get("history", []), status)
        logged = worklogs.seeded(self, data.get("worklogs", []))
        created = history[0].at if history else now()
        updated = parse_time(data["updated"]) if "updated" in data else max(
            [history[-1].at if history else created, *(w.created for w in logged)])
        fields = {
            "summary": f"Ticket {key}", "issuetype": issuetype, "project": project,
            "priority": {"id": "3", "name": "Medium"}, "reporter": None, "assignee": None,
            "created": self.time(created), "updated": self.time(updated), **data.get("fields", {}),
        }
        fields.pop("status", None)
        table = data.get("transitions")
        issue = Issue(str(data.get("id") or 20000 + next(self._seq)), key, status, fields,
                      None if table is None else self._transition_table(table), [], history,
                      logged, list(data.get("organizations", [])), data.get("reporter"),
                      parent=data.get("parent"))
        self.status(issue.status)
        issue.attachments = attachments.seeded(self, data.get("attachments", []))
        self.issues[key] = issue
        self.changed()
        return issue

    def add_user(self, data: dict[str, Any]) -> dict[str, Any]:
        if "name" not in data and "accountId" not in data:
            raise ValueError("a user needs a name (Data Center) or an accountId (Cloud)")
        label = data.get("name") or data["accountId"]
        user = {"key": label, "displayName": label, "groups": [], **data}
        self.users.append(user)
        return user

    def add_fault(self, data: dict[str, Any]) -> Fault:
        fault = new_fault(data)
        self.faults.append(fault)
        return fault

    def set_webhook(self, url: str | None, secret: str | None = None,
                    deployment: str | None = None) -> None:
        self.webhook = {"url": url, "secret": secret, "deployment": deployment} if url else None

    # --- lookups and Jira shapes -------------------------------------------------------------
    def next_id(self) -> str:
        """A fresh id for a changelog entry."""
        return str(40000 + next(self._seq))

    def time(self, moment: datetime) -> str:
        """`moment` as Jira writes it to the bridge's account, in its time zone."""
        return jira_time(moment, self.zone)

    def status(self, name: str) -> dict[str, str]:
        """The status called `name`, registered with a fresh id when new."""
        if name not in self.statuses:
            self.statuses[name] = {"id": str(10900 + next(self._seq)), "category": "indeterminate"}
        return self.statuses[name]

    def find_issue(self, id_or_key: str) -> Issue | None:
        by_id = (issue for issue in self.issues.values() if issue.id == id_or_key)
        return self.issues.get(id_or_key) or next(by_id, None)

    def organization_id(self, name: str) -> str:
        """The id of the Service Management organisation called `name`, made when new."""
        return self.organization_ids.setdefault(name, str(len(self.organization_ids) + 1))

    def find_user(self, query: dict[str, str]) -> dict[str, Any] | None:
        for field_name, param in (("accountId", "accountId"), ("name", "username"), ("key", "key")):
            if param in query:
                return next((u for u in self.users if u.get(field_name) == query[param]), None)
        return None

    def transitions_for(self, issue: Issue) -> list[tuple[dict[str, str], bool]]:
        """The transitions available from the issue's status, each with whether it is global."""
        table = self.workflow if issue.transitions is None else issue.transitions
        local = [(t, False) for t in table.get(issue.status, [])]
        return local + [(t, True) for t in table.get("*", [])]

    def status_json(self, name: str, base: str) -> dict[str, Any]:
        status = self.status(name)
        category = STATUS_CATEGORIES[status["category"]]
        return {
            "self": f"{base}/rest/api/2/status/{status['id']}", "description": "",
            "iconUrl": f"{base}/images/icons/statuses/generic.png", "name": name,
            "id": status["id"],
            "statusCategory": {"self": f"{base}/rest/api/2/statuscategory/{category['id']}",
                               **category},
        }

    def transition_json(self, transition: dict[str, str], is_global: bool,
                        base: str) -> dict[str, Any]:
        return {
            "id": transition["id"], "name": transition["name"],
            "to": self.status_json(transition["to"], base),
            "hasScreen": False, "isGlobal": is_global, "isInitial": False, "isAvailable": True,
            "isConditional": False, "isLooped": False,
        }

    def issue_json(self, issue: Issue, base: str, version: str, fields: str | None = None,
                   with_transitions: bool = False) -> dict[str, Any]:
        """Jira's issue shape; `fields` is Jira's parameter ("a,b", "*all", "-c")."""
        wanted = [f for f in (fields or "*all").split(",") if f]
        excluded = {f[1:] for f in wanted if f.startswith("-")}
        included = {f for f in wanted if not f.startswith("-")}
        keep_all = not included or included & {"*all", "*navigable"}
        every = {**issue.fields, "status": self.status_json(issue.status, base),
                 "issuelinks": links.issuelinks_json(self, issue, base)}
        if keep_all or included & {"subtasks", "parent"}:
            every.update(subtasks.fields_json(self, issue, base))
        if not included or included & {"*all", "worklog"}:
            every["worklog"] = worklogs.field_json(self, issue, base, version)
        if issue.reporter:
            every["reporter"] = self.user_json(issue.reporter, base)
        every["attachment"] = attachments.field_json(self, issue, base, version)
        if self.organizations_field:
            every[self.organizations_field] = worklogs.organizations_json(self, issue.organizations, base)
        chosen = {k: v for k, v in every.items()
                  if (keep_all or k in included) and k not in excluded}
        result = {"id": issue.id, "key": issue.key,
                  "self": f"{base}/rest/api/{version}/issue/{issue.id}", "fields": chosen}
        if with_transitions:
            result["transitions"] = [self.transition_json(t, is_global, base)
                                     for t, is_global in self.transitions_for(issue)]
        return result

    def user_json(self, user: dict[str, Any], base: str,
                  deployment: str | None = None) -> dict[str, Any]:
        """A user as this deployment shows one: Cloud by accountId, Data Center by name/key."""
        user = {"accountType": "atlassian", "active": True, "timeZone": DEFAULT_ZONE, **user}
        if (deployment or self.deployment) == "cloud" and "accountId" in user:
            keys = ("accountId", "accountType", "displayName", "emailAddress", "active", "timeZone")
            link = f"{base}/rest/api/3/user?accountId={user['accountId']}"
        else:
            keys = ("name", "key", "displayName", "emailAddress", "active", "timeZone")
            link = f"{base}/rest/api/2/user?username={user.get('name')}"
        return {"self": link, **{k: user[k] for k in keys if k in user}}

    def issue_state(self, issue: Issue) -> dict[str, Any]:
        return {"key": issue.key, "id": issue.id, "status": issue.status, "fields": issue.fields,
                "comments": issue.comments, "history": state_json(self, issue),
                "worklogs": worklogs.state_json(self, issue), **links.state_json(self, issue),
                **attachments.state_json(self, issue)}

    # --- changes -----------------------------------------------------------------------------
    def add_comment(self, issue: Issue, payload: dict[str, Any], base: str, version: str,
                    author: dict[str, Any] | None = None) -> dict[str, Any]:
        internal = any(
            isinstance(p, dict) and p.get("key") == INTERNAL_COMMENT_PROPERTY
            and isinstance(p.get("value"), dict) and p["value"].get("internal") in (True, "true")
            for p in payload.get("properties") or []
        )
        comment_id, made = str(30000 + next(self._seq)), self.time(now())
        who = self.user_json(author or self.account, base)
        comment = {"self": f"{base}/rest/api/{version}/issue/{issue.id}/comment/{comment_id}",
                   "id": comment_id, "author": who, "body": payload["body"], "updateAuthor": who,
                   "created": made, "updated": made, "jsdPublic": not internal}
        if "visibility" in payload:
            comment["visibility"] = payload["visibility"]
        self.comment_properties[comment_id] = {
            p["key"]: p.get("value") for p in payload.get("properties") or []
            if isinstance(p, dict) and isinstance(p.get("key"), str)
        }
        issue.comments.append(comment)
        issue.fields["updated"] = made
        self.changed()
        return comment

    def move(self, issue: Issue, to: str, *, by: dict[str, Any], base: str,
             comment: dict[str, Any] | None = None, at: datetime | None = None) -> dict[str, Any]:
        """Set the status as `by` did (at `at`, default now) and keep the change in the
        history; return the jira:issue_updated delivery Jira would send for it."""
        change = Change(self.next_id(), by, at or now(), issue.status, to)
        item = {"field": "status", "fieldtype": "jira", "fieldId": "status",
                "from": self.status(issue.status)["id"], "fromString": issue.status,
                "to": self.status(to)["id"], "toString": to}
        issue.history.append(change)
        issue.status = to
        issue.fields["updated"] = self.time(change.at)
        self.changed()
        deployment = (self.webhook or {}).get("deployment") or self.deployment
        event = {"timestamp": int(change.at.timestamp() * 1000), "webhookEvent": "jira:issue_updated",
                 "issue_event_type_name": "issue_generic",
                 "user": self.user_json(by, base, deployment),
                 "issue": self.issue_json(issue, base, "2"),
                 "changelog": {"id": change.id, "items": [item]}}
        if comment:
            event["comment"] = comment
        return event

    def take_fault(self, method: str, path: str) -> Fault | None:
        return take_fault(self.faults, method, path)

    def authorized(self, header: str | None) -> bool:
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() not in ("basic", "bearer") or not token.strip():
            return False
        if self.credentials is None:
            return True
        if scheme.lower() == "basic":
            try:
                token = base64.b64decode(token, validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                return False
        return token in self.credentials

    # --- webhooks ----------------------------------------------------------------------------
    def emit(self, event: dict[str, Any]) -> None:
        """Deliver `event` to the configured webhook in the background, as Jira does."""
        if self.webhook:
            task = asyncio.get_running_loop().create_task(self._deliver(dict(self.webhook), event))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _deliver(self, webhook: dict[str, Any], event: dict[str, Any]) -> None:
        raw = json.dumps(event, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "Atlassian Webhook HTTP Client",
                   "X-Atlassian-Webhook-Identifier": str(uuid.uuid4()),
                   "X-Atlassian-Webhook-Flow": "Primary"}
        if webhook["secret"]:
            digest = hmac.new(webhook["secret"].encode(), raw, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature"] = f"sha256={digest}"
        await deliver(self._transport, self.deliveries, webhook["url"], raw, headers,
                      headers=headers, body=event)

    async def drain(self) -> None:
        """Wait until every webhook delivery started so far has finished."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

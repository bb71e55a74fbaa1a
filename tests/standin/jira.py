"""A Jira stand-in for tests: Jira's REST shapes and refusals, with controls under /_standin/.

Real Jira refuses endpoints its OpenAPI does not describe and v3 comment bodies that are not
Atlassian Document Format; so does this, reading tests/fixtures/jira-openapi-paths.json. An
operation Jira has but the stand-in lacks answers 501, so a test notices the gap instead of
passing against an invented endpoint.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SPEC_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "jira-openapi-paths.json"
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
ISSUE_NOT_FOUND = ["Issue does not exist or you do not have permission to see it."]
ISSUE_EXPANDS = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"


def jira_error(status: int, *messages: str, **errors: str) -> tuple[int, dict[str, Any]]:
    return status, {"errorMessages": list(messages), "errors": errors}


def now_jira() -> str:
    """The current time as Jira writes it: 2026-11-20T16:02:41.508+0100."""
    now = datetime.now().astimezone()
    millis = f"{now.microsecond // 1000:03d}"
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + millis + now.strftime("%z")


@functools.cache
def load_spec() -> dict[str, Any]:
    return json.loads(SPEC_FILE.read_text("utf-8"))


def resolve(method: str, path: str) -> tuple[str, str, dict[str, str]] | None:
    """(REST version, v3 path template, path parameters) of a Jira operation, or None.

    REST v2 (Data Center, and Cloud's older API) has the same templates as v3. Among matching
    templates the one with the most literal segments wins, as `issue/picker` beats
    `issue/{issueIdOrKey}`.
    """
    version = "3"
    api = re.fullmatch(r"/rest/api/(2|3|latest)(/.*)?", path)
    if api:
        version = "3" if api[1] == "3" else "2"
        path = "/rest/api/3" + (api[2] or "")
    segments = path.strip("/").split("/")
    best: tuple[int, str, dict[str, str]] | None = None
    for template, methods in load_spec()["paths"].items():
        parts = template.strip("/").split("/")
        if method not in methods or len(parts) != len(segments):
            continue
        params: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{"):
                params[part[1:-1]] = segment
            elif part != segment:
                break
        else:
            literal = len(parts) - len(params)
            if best is None or literal > best[0]:
                best = (literal, template, params)
    return None if best is None else (version, best[1], best[2])


def adf_problem(doc: Any) -> str | None:
    """Why `doc` is not an Atlassian Document Format document, or None when it is one."""
    if not isinstance(doc, dict) or doc.get("type") != "doc" or doc.get("version") != 1:
        return "not an ADF doc of version 1"
    if not isinstance(doc.get("content"), list):
        return "a doc needs content"
    return _adf_node_problem(doc, {"doc"}, load_spec()["adf"], plain=False)


def _adf_node_problem(node: Any, allowed: set[str], adf: dict[str, Any], plain: bool) -> str | None:
    kind = node.get("type") if isinstance(node, dict) else None
    if kind not in allowed:
        return f"node {kind or node!r} is not allowed here"
    spec = adf["nodes"][kind]
    attrs = node.get("attrs", {})
    if not isinstance(attrs, dict) or any(a not in attrs for a in spec.get("attrs", [])):
        return f"{kind} needs attrs {spec.get('attrs')}"
    marks = node.get("marks", [])
    if not isinstance(marks, list) or (plain and marks):
        return f"{kind} may not carry these marks"
    for mark in marks:
        required = adf["marks"].get(mark.get("type")) if isinstance(mark, dict) else None
        if required is None or any(a not in (mark.get("attrs") or {}) for a in required):
            return f"invalid mark {mark!r}"
    if kind == "text" and not (isinstance(node.get("text"), str) and node["text"]):
        return "a text node needs non-empty text"
    content, kinds = node.get("content", []), spec.get("content", [])
    if not isinstance(content, list) or (content and not kinds):
        return f"{kind} may not have this content"
    if len(content) < spec.get("minContent", 0):
        return f"{kind} needs content"
    children: set[str] = set()
    for k in kinds:
        children.update(adf[k[1:]] if k.startswith("@") else ["text"] if k == "#plainText" else [k])
    for child in content:
        if problem := _adf_node_problem(child, children, adf, plain="#plainText" in kinds):
            return problem
    return None


def comment_problem(body: Any, version: str) -> dict[str, str] | None:
    """Jira's `errors` for a comment body it refuses: ADF on v3, a string on v2."""
    if body is None or body == "":
        return {"comment": "Comment body can not be empty!"}
    valid = adf_problem(body) is None if version == "3" else isinstance(body, str)
    if not valid:
        return {"comment": "Comment body is not valid!"}
    empty = not body["content"] if isinstance(body, dict) else not body.strip()
    return {"comment": "Comment body can not be empty!"} if empty else None


@dataclass
class Issue:
    id: str
    key: str
    status: str
    fields: dict[str, Any]
    transitions: dict[str, list[dict[str, str]]] | None
    comments: list[dict[str, Any]]
    history: list[dict[str, Any]]


@dataclass
class Fault:
    """The next `times` calls matching method and path answer `status` (after `delay_ms`)."""

    path_regex: str
    status: int | None = None
    method: str | None = None
    times: int = 1
    retry_after: int | None = None
    delay_ms: int = 0


class JiraStandin:
    """The state of one fake Jira site; `create_app(standin)` serves it over HTTP.

    `transport` replaces the network for webhook deliveries (an httpx.MockTransport in tests).
    """

    def __init__(self, *, deployment: str = "cloud",
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport
        self._pending: set[asyncio.Task[None]] = set()
        self.reset(deployment)

    def reset(self, deployment: str = "cloud", account: dict[str, Any] | None = None,
              credentials: list[str] | None = None) -> None:
        if deployment not in ("cloud", "datacenter"):
            raise ValueError(f"deployment must be cloud or datacenter, not {deployment!r}")
        self.deployment = deployment
        self.account = {**DEFAULT_ACCOUNT, **(account or {})}
        self.credentials = list(credentials) if credentials else None
        self.statuses = {name: {"id": status_id, "category": "indeterminate"}
                         for name, status_id in DEFAULT_STATUSES.items()}
        self.workflow: dict[str, list[dict[str, str]]] = {}
        self.issues: dict[str, Issue] = {}
        self.users: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.webhook: dict[str, Any] | None = None
        self.deliveries: list[dict[str, Any]] = []
        self._seq = itertools.count(1)

    def load(self, seed: dict[str, Any]) -> None:
        """Reset, then apply a seed: the document of --state-file and POST /_standin/reset."""
        self.reset(seed.get("deployment", "cloud"), seed.get("account"), seed.get("credentials"))
        self.set_workflow(seed.get("transitions", {}), seed.get("statuses", {}))
        for issue in seed.get("issues", []):
            self.add_issue(issue)
        for user in seed.get("users", []):
            self.add_user(user)
        for fault in seed.get("faults", []):
            self.add_fault(fault)
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
        key = data["key"]
        self.set_workflow({}, data.get("statuses"))
        issuetype = data.get("issuetype", "Servis")
        if not isinstance(issuetype, dict):
            issuetype = {"id": ISSUE_TYPE_IDS.get(issuetype, "10000"), "name": issuetype,
                         "subtask": False}
        project = data.get("project", key.split("-")[0])
        if not isinstance(project, dict):
            project = {"id": "10001", "key": project, "name": project}
        now = now_jira()
        fields = {
            "summary": f"Ticket {key}", "issuetype": issuetype, "project": project,
            "priority": {"id": "3", "name": "Medium"},
            "reporter": None, "assignee": None, "created": now, "updated": now,
            **data.get("fields", {}),
        }
        fields.pop("status", None)
        table = data.get("transitions")
        issue = Issue(str(data.get("id") or 20000 + next(self._seq)), key,
                      data.get("status", "Nový"), fields,
                      None if table is None else self._transition_table(table), [], [])
        self.status(issue.status)
        self.issues[key] = issue
        return issue

    def add_user(self, data: dict[str, Any]) -> dict[str, Any]:
        if "name" not in data and "accountId" not in data:
            raise ValueError("a user needs a name (Data Center) or an accountId (Cloud)")
        label = data.get("name") or data["accountId"]
        user = {"key": label, "displayName": label, "groups": [], **data}
        self.users.append(user)
        return user

    def add_fault(self, data: dict[str, Any]) -> Fault:
        fault = Fault(**data)
        fault.method = fault.method.upper() if fault.method else None
        self.faults.append(fault)
        return fault

    def set_webhook(self, url: str | None, secret: str | None = None,
                    deployment: str | None = None) -> None:
        self.webhook = {"url": url, "secret": secret, "deployment": deployment} if url else None

    # --- lookups and Jira shapes -------------------------------------------------------------
    def status(self, name: str) -> dict[str, str]:
        """The status called `name`, registered with a fresh id when new."""
        if name not in self.statuses:
            self.statuses[name] = {"id": str(10900 + next(self._seq)), "category": "indeterminate"}
        return self.statuses[name]

    def find_issue(self, id_or_key: str) -> Issue | None:
        by_id = (issue for issue in self.issues.values() if issue.id == id_or_key)
        return self.issues.get(id_or_key) or next(by_id, None)

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
        every = {**issue.fields, "status": self.status_json(issue.status, base)}
        wanted = [f for f in (fields or "*all").split(",") if f]
        excluded = {f[1:] for f in wanted if f.startswith("-")}
        included = {f for f in wanted if not f.startswith("-")}
        keep_all = not included or included & {"*all", "*navigable"}
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
        user = {"accountType": "atlassian", "active": True, "timeZone": "Europe/Prague", **user}
        if (deployment or self.deployment) == "cloud" and "accountId" in user:
            keys = ("accountId", "accountType", "displayName", "emailAddress", "active", "timeZone")
            link = f"{base}/rest/api/3/user?accountId={user['accountId']}"
        else:
            keys = ("name", "key", "displayName", "emailAddress", "active", "timeZone")
            link = f"{base}/rest/api/2/user?username={user.get('name')}"
        return {"self": link, **{k: user[k] for k in keys if k in user}}

    def issue_state(self, issue: Issue) -> dict[str, Any]:
        return {"key": issue.key, "id": issue.id, "status": issue.status, "fields": issue.fields,
                "comments": issue.comments, "history": issue.history}

    # --- changes -----------------------------------------------------------------------------
    def add_comment(self, issue: Issue, payload: dict[str, Any], base: str, version: str,
                    author: dict[str, Any] | None = None) -> dict[str, Any]:
        internal = any(
            isinstance(p, dict) and p.get("key") == INTERNAL_COMMENT_PROPERTY
            and isinstance(p.get("value"), dict) and p["value"].get("internal") in (True, "true")
            for p in payload.get("properties") or []
        )
        comment_id, now = str(30000 + next(self._seq)), now_jira()
        who = self.user_json(author or self.account, base)
        comment = {"self": f"{base}/rest/api/{version}/issue/{issue.id}/comment/{comment_id}",
                   "id": comment_id, "author": who, "body": payload["body"], "updateAuthor": who,
                   "created": now, "updated": now, "jsdPublic": not internal}
        if "visibility" in payload:
            comment["visibility"] = payload["visibility"]
        issue.comments.append(comment)
        issue.fields["updated"] = now
        return comment

    def move(self, issue: Issue, to: str, *, by: dict[str, Any], base: str,
             comment: dict[str, Any] | None = None) -> dict[str, Any]:
        """Set the status as `by` did; return the jira:issue_updated delivery Jira would send."""
        item = {"field": "status", "fieldtype": "jira", "fieldId": "status",
                "from": self.status(issue.status)["id"], "fromString": issue.status,
                "to": self.status(to)["id"], "toString": to}
        issue.history.append({"from": issue.status, "to": to,
                              "by": by.get("accountId") or by.get("name"), "at": time.monotonic()})
        issue.status = to
        issue.fields["updated"] = now_jira()
        deployment = (self.webhook or {}).get("deployment") or self.deployment
        event = {"timestamp": int(time.time() * 1000), "webhookEvent": "jira:issue_updated",
                 "issue_event_type_name": "issue_generic",
                 "user": self.user_json(by, base, deployment),
                 "issue": self.issue_json(issue, base, "2"),
                 "changelog": {"id": str(40000 + next(self._seq)), "items": [item]}}
        if comment:
            event["comment"] = comment
        return event

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method in (None, method) and re.search(fault.path_regex, path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

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
        record = {"url": webhook["url"], "headers": headers, "body": event, "status": None,
                  "error": None, "at": time.monotonic()}
        self.deliveries.append(record)
        try:
            async with httpx.AsyncClient(transport=self._transport, timeout=10) as client:
                response = await client.post(webhook["url"], content=raw, headers=headers)
            record["status"] = response.status_code
        except httpx.HTTPError as exc:
            record["error"] = repr(exc)

    async def drain(self) -> None:
        """Wait until every webhook delivery started so far has finished."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


# --- REST operations ---------------------------------------------------------------------------
@dataclass
class RestCall:
    version: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    base: str


Handler = Callable[[JiraStandin, RestCall], tuple[int, Any]]


def _on_issue(handler: Callable[[JiraStandin, RestCall, Issue], tuple[int, Any]]) -> Handler:
    @functools.wraps(handler)
    def wrapper(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
        issue = standin.find_issue(call.params["issueIdOrKey"])
        return jira_error(404, *ISSUE_NOT_FOUND) if issue is None else handler(standin, call, issue)

    return wrapper


def _myself(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
    return 200, standin.user_json(standin.account, call.base)


@_on_issue
def _get_issue(standin: JiraStandin, call: RestCall, issue: Issue) -> tuple[int, Any]:
    expand = call.query.get("expand", "").split(",")
    body = standin.issue_json(issue, call.base, call.version, call.query.get("fields"),
                              with_transitions="transitions" in expand)
    return 200, {"expand": ISSUE_EXPANDS, **body}


@_on_issue
def _get_transitions(standin: JiraStandin, call: RestCall, issue: Issue) -> tuple[int, Any]:
    only = call.query.get("transitionId")
    transitions = [standin.transition_json(t, is_global, call.base)
                   for t, is_global in standin.transitions_for(issue) if only in (None, t["id"])]
    return 200, {"expand": "transitions", "transitions": transitions}


@_on_issue
def _do_transition(standin: JiraStandin, call: RestCall, issue: Issue) -> tuple[int, Any]:
    body = call.body if isinstance(call.body, dict) else {}
    wanted = str((body.get("transition") or {}).get("id") or "")
    if not wanted:
        return jira_error(400, "Missing 'transition' identifier")
    chosen = next((t for t, _ in standin.transitions_for(issue) if t["id"] == wanted), None)
    if chosen is None:
        return jira_error(400, f"Transition id '{wanted}' is not valid for this issue.")
    operations = (body.get("update") or {}).get("comment") or []
    adds = [op["add"] for op in operations
            if isinstance(op, dict) and isinstance(op.get("add"), dict)]
    for add in adds:
        if errors := comment_problem(add.get("body"), call.version):
            return jira_error(400, **errors)
    comments = [standin.add_comment(issue, add, call.base, call.version) for add in adds]
    standin.emit(standin.move(issue, chosen["to"], by=standin.account, base=call.base,
                              comment=comments[-1] if comments else None))
    return 204, None


@_on_issue
def _get_comments(standin: JiraStandin, call: RestCall, issue: Issue) -> tuple[int, Any]:
    total = len(issue.comments)
    return 200, {"startAt": 0, "maxResults": max(total, 50), "total": total,
                 "comments": issue.comments}


@_on_issue
def _add_comment(standin: JiraStandin, call: RestCall, issue: Issue) -> tuple[int, Any]:
    body = call.body if isinstance(call.body, dict) else {}
    if errors := comment_problem(body.get("body"), call.version):
        return jira_error(400, **errors)
    return 201, standin.add_comment(issue, body, call.base, call.version)


def _get_user(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
    query = call.query
    if standin.deployment == "cloud" and ("username" in query or "key" in query):
        param = "username" if "username" in query else "key"
        return jira_error(400, f"The query parameter '{param}' is not supported in GDPR strict "
                               "mode.")
    user = standin.find_user(query)
    if user is None:
        if standin.deployment == "datacenter":
            who = query.get("username") or query.get("key")
            return jira_error(404, f"The user named '{who}' does not exist")
        return jira_error(404, "Specified user does not exist or you do not have required "
                               "permissions")
    result = standin.user_json(user, call.base)
    if "groups" in query.get("expand", "").split(","):
        items = [{"name": group, "self": f"{call.base}/rest/api/2/group?groupname={group}"}
                 for group in user["groups"]]
        result["groups"] = {"size": len(items), "items": items}
    return 200, result


ISSUE = "/rest/api/3/issue/{issueIdOrKey}"
OPERATIONS: dict[tuple[str, str], Handler] = {
    ("GET", "/rest/api/3/myself"): _myself,
    ("GET", ISSUE): _get_issue,
    ("GET", ISSUE + "/transitions"): _get_transitions,
    ("POST", ISSUE + "/transitions"): _do_transition,
    ("GET", ISSUE + "/comment"): _get_comments,
    ("POST", ISSUE + "/comment"): _add_comment,
    ("GET", "/rest/api/3/user"): _get_user,
}


NOT_JSON = object()


async def answer(standin: JiraStandin, method: str, path: str, query: dict[str, str], body: Any,
                 authorization: str | None, base: str) -> tuple[int, Any, dict[str, str]]:
    """Answer one REST call as Jira would: (status, JSON body or None, headers).

    `body` is the parsed JSON request body, None without one, or NOT_JSON.
    """
    fault = standin.take_fault(method, path)
    if fault and fault.delay_ms:
        await asyncio.sleep(fault.delay_ms / 1000)
    if fault and fault.status:
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        message = f"Fault injected by the Jira stand-in ({fault.status})"
        return (*jira_error(fault.status, message), headers)
    if not standin.authorized(authorization):
        status, body = jira_error(401, "You are not authenticated. Authentication required to "
                                       "perform this operation.")
        return status, body, {"WWW-Authenticate": 'Basic realm="protected-area"'}
    found = resolve(method, path)
    if found is None:
        return 404, {"message": f"null for uri: {base}{path}", "status-code": 404}, {}
    version, template, params = found
    handler = OPERATIONS.get((method, template))
    if handler is None:
        message = (f"The Jira stand-in does not implement {method} {template} "
                   "(it exists in Jira's OpenAPI).")
        return (*jira_error(501, message), {})
    if body is NOT_JSON:
        return (*jira_error(400, "Unexpected character in the request body: it is not JSON."), {})
    return (*handler(standin, RestCall(version, params, query, body, base)), {})


# --- the ASGI app ------------------------------------------------------------------------------
async def _rest(request: Request) -> Response:
    standin: JiraStandin = request.app.state.standin
    arrived, raw = time.monotonic(), await request.body()
    try:
        sent = json.loads(raw) if raw else None
    except ValueError:
        sent = NOT_JSON
    query = {k: ",".join(request.query_params.getlist(k)) for k in request.query_params}
    call = {"method": request.method, "path": request.url.path, "query": query,
            "body": None if sent is NOT_JSON else sent, "status": None, "at": arrived}
    standin.calls.append(call)
    status, body, headers = await answer(standin, request.method, request.url.path, query, sent,
                                         request.headers.get("authorization"),
                                         str(request.base_url).rstrip("/"))
    call["status"] = status
    if body is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(body, status, headers=headers)


def _control(handler: Callable[[JiraStandin, Any, Request], Any]) -> Callable[[Request], Any]:
    """A /_standin/ endpoint: JSON in, JSON out (None: 204), a bad seed answers 400."""

    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        try:
            result = handler(request.app.state.standin, json.loads(raw) if raw else {}, request)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, 400)
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status_code=204)
        return JSONResponse(result, 201 if request.method == "POST" else 200)

    return endpoint


def _seed_issues(standin: JiraStandin, data: Any, request: Request) -> Any:
    issues = [standin.add_issue(item) for item in (data if isinstance(data, list) else [data])]
    return [standin.issue_state(issue) for issue in issues]


def _issue(standin: JiraStandin, data: Any, request: Request) -> Any:
    issue = standin.find_issue(request.path_params["key"])
    return standin.issue_state(issue) if issue else JSONResponse({"error": "no such issue"}, 404)


def _person_moves(standin: JiraStandin, data: Any, request: Request) -> Any:
    """A person (default: the bridge's account) sets the status, as if in Jira's UI or portal."""
    issue = standin.find_issue(request.path_params["key"])
    if issue is None:
        return JSONResponse({"error": "no such issue"}, 404)
    base, user = str(request.base_url).rstrip("/"), data.get("user") or standin.account
    comment = None
    if data.get("comment") is not None:
        comment = standin.add_comment(issue, {"body": data["comment"]}, base, "2", author=user)
    event = standin.move(issue, data["to"], by=user, base=base, comment=comment)
    standin.emit(event)
    return event


def _faults(standin: JiraStandin, data: Any, request: Request) -> Any:
    if request.method == "DELETE":
        return standin.faults.clear()
    if request.method == "GET":
        return [vars(fault) for fault in standin.faults]
    return [vars(standin.add_fault(item)) for item in (data if isinstance(data, list) else [data])]


def _seed_users(standin: JiraStandin, data: Any, request: Request) -> Any:
    return [standin.add_user(item) for item in (data if isinstance(data, list) else [data])]


def _set_workflow(standin: JiraStandin, data: Any, request: Request) -> Any:
    standin.set_workflow(data.get("transitions", {}), data.get("statuses"))


def _calls(standin: JiraStandin, data: Any, request: Request) -> Any:
    return standin.calls.clear() if request.method == "DELETE" else standin.calls


def create_app(standin: JiraStandin | None = None) -> Starlette:
    """The stand-in as an ASGI app: Jira under /rest/, controls under /_standin/."""
    routes = [
        Route("/rest/{path:path}", _rest, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        Route("/_standin/reset", _control(lambda s, d, r: s.load(d)), methods=["POST"]),
        Route("/_standin/issues", _control(_seed_issues), methods=["POST"]),
        Route("/_standin/issues/{key}", _control(_issue), methods=["GET"]),
        Route("/_standin/issues/{key}/transition", _control(_person_moves), methods=["POST"]),
        Route("/_standin/workflow", _control(_set_workflow), methods=["POST"]),
        Route("/_standin/users", _control(_seed_users), methods=["POST"]),
        Route("/_standin/faults", _control(_faults), methods=["GET", "POST", "DELETE"]),
        Route("/_standin/calls", _control(_calls), methods=["GET", "DELETE"]),
        Route("/_standin/webhook", _control(lambda s, d, r: s.set_webhook(**d)), methods=["POST"]),
        Route("/_standin/webhook/deliveries", _control(lambda s, d, r: s.deliveries),
              methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.standin = standin or JiraStandin()
    return app

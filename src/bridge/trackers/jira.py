"""Jira Cloud and Data Center: deliveries in, REST calls out.

Cloud speaks REST v3 (comments in Atlassian Document Format), Data Center REST v2 (plain
text). Customers are told apart by `accountType == "customer"` on Cloud and by membership
in configured groups on Data Center (looked up once per user and cached).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any, Literal

import httpx
import orjson

from bridge.engine import Actor, Event, Kind, Role, Ticket, Transition
from bridge.engine.model import KEY_LENGTH, NAME_LENGTH
from bridge.trackers.base import (
    MalformedDelivery,
    TrackerProblem,
    TrackerRejected,
    TrackerUnauthorized,
    TrackerUnavailable,
)
from bridge.trackers.http import RestClient, RetryPolicy, segment, send, send_once

Deployment = Literal["cloud", "datacenter"]
STATUS_FIELDS = ("status", "issuetype", "project")
# What the bridge does on a ticket, as Jira's permission keys.
NEEDED = {"BROWSE_PROJECTS": "browse", "TRANSITION_ISSUES": "transition", "ADD_COMMENTS": "comment"}
MARKER_PROPERTY = "ticket-bridge"  # the comment property naming the action that made it
RECENT_COMMENTS = 50  # how far back a retry looks for a comment it may have made


# -- deliveries ------------------------------------------------------------------------------
# Jira's issue key: the project key (a letter, then letters, digits or underscores) and the
# issue's number. Anything else would not name one ticket once put into a REST path.
ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]*-[1-9][0-9]*", re.IGNORECASE | re.ASCII)
# Deeper than any editor nests a comment; walking it would only cost time.
MAX_COMMENT_DEPTH = 100


def envelope_problem(payload: Any) -> str | None:
    """Why a parsed body is not a Jira webhook delivery at all, or None. Cheap enough for
    the intake to answer 422 before storing."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("webhookEvent"), str):
        return "not a Jira webhook delivery: 'webhookEvent' is missing"
    return None


def parse_delivery(payload: Mapping[str, Any], *, tracker: str = "jira") -> Event:
    """Normalise a Jira webhook body into the core's event. Pure and total: any JSON object
    becomes an event or raises `MalformedDelivery` saying what is wrong with it."""
    problem = envelope_problem(payload)
    if problem is not None:
        raise MalformedDelivery(problem)
    name = payload["webhookEvent"]
    try:
        return _event(payload, name, tracker)
    except MalformedDelivery as exc:
        raise MalformedDelivery(f"{_text(name, 'webhookEvent', KEY_LENGTH)}: {exc}") from None


def _event(payload: Mapping[str, Any], name: str, tracker: str) -> Event:
    issue = payload.get("issue")
    if not isinstance(issue, Mapping) or not isinstance(issue.get("key"), str):
        raise MalformedDelivery("'issue.key' is missing")
    key = issue["key"]
    if len(key) > KEY_LENGTH or not ISSUE_KEY.fullmatch(key):
        raise MalformedDelivery(f"'issue.key' {key[:80]!r} is not a Jira issue key")
    fields = issue.get("fields") or {}
    if not isinstance(fields, Mapping):
        raise MalformedDelivery("'issue.fields' is not an object")

    comment = payload.get("comment") if isinstance(payload.get("comment"), Mapping) else None
    user, who = payload.get("user"), "user"
    if not user and comment is not None:
        user, who = comment.get("author"), "comment.author"
    status_item = _status_item(payload.get("changelog"))

    if name == "jira:issue_updated":
        kind = Kind.STATUS_CHANGED if status_item else Kind.UPDATED
    elif name == "jira:issue_created":
        kind = Kind.CREATED
    elif name.startswith("comment_"):
        kind = Kind.COMMENTED
    else:
        kind = Kind.OTHER

    status = _text(_get(fields.get("status"), "name"), "issue.fields.status.name")
    return Event(
        tracker=tracker,
        kind=kind,
        ticket=key,
        actor=actor_of(user, who),
        project=_text(_get(fields.get("project"), "key"), "issue.fields.project.key"),
        issue_type=_text(_get(fields.get("issuetype"), "name"), "issue.fields.issuetype.name"),
        request_type=request_type_of(fields),
        from_status=_text(_get(status_item, "fromString"), "changelog.items.fromString"),
        to_status=_text(_get(status_item, "toString"), "changelog.items.toString") if status_item else status,
        comment=comment_text(comment.get("body")) if comment else None,
        raw_event=_text(name, "webhookEvent", KEY_LENGTH),
        snapshot=Ticket(key, status or "", dict(fields), transitions=None),
    )


def parse_body(body: bytes) -> Event:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedDelivery(f"body is not JSON: {exc}") from None
    return parse_delivery(payload)


def actor_of(user: Any, where: str = "user") -> Actor:
    if not isinstance(user, Mapping):
        return Actor(None)
    account_type = user.get("accountType")
    if account_type == "customer":
        role = Role.CUSTOMER
    elif account_type in ("atlassian", "app"):
        role = Role.AGENT
    else:  # Data Center carries no account type: group membership decides
        role = Role.UNKNOWN
    ident = (
        _text(user.get("accountId"), f"{where}.accountId")
        or _text(user.get("name"), f"{where}.name")
        or _text(user.get("key"), f"{where}.key")
    )
    return Actor(ident, _text(user.get("displayName"), f"{where}.displayName"), role)


def request_type_of(fields: Mapping[str, Any]) -> str | None:
    """The JSM request type, found by the shape of its field: its id differs per site."""
    for value in fields.values():
        if isinstance(value, Mapping):
            request_type = value.get("requestType")
            if isinstance(request_type, Mapping) and isinstance(request_type.get("name"), str):
                return _text(request_type["name"], "requestType.name")
    return None


def comment_text(body: Any) -> str:
    """Plain text of a comment body: a string (v2, webhooks) or an ADF document (v3).

    The document is walked with a stack of its own, not by recursion: a signed delivery may
    nest it as deep as it likes, and it is refused past `MAX_COMMENT_DEPTH`.
    """
    parts: list[str] = []
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            parts.append(node)
        elif not isinstance(node, Mapping):
            continue
        elif node.get("type") == "text":
            text = node.get("text")
            parts.append(text if isinstance(text, str) else "")
        elif isinstance(node.get("content"), list):
            if depth >= MAX_COMMENT_DEPTH:
                raise MalformedDelivery(f"'comment.body' is nested deeper than {MAX_COMMENT_DEPTH} levels")
            stack.extend((child, depth + 1) for child in reversed(node["content"]))
    return "".join(parts).replace("\x00", "")


def adf(text: str) -> dict[str, Any]:
    """Plain text as an ADF document: one paragraph per line, blank lines dropped."""
    paragraphs = [
        {"type": "paragraph", "content": [{"type": "text", "text": line}]}
        for line in text.splitlines()
        if line.strip()
    ]
    return {"type": "doc", "version": 1, "content": paragraphs}


def _lines(text: str) -> list[str]:
    """Text as the tracker keeps it: ADF drops blank lines and trailing spaces."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _status_item(changelog: Any) -> Mapping[str, Any] | None:
    if changelog is None:
        return None
    if not isinstance(changelog, Mapping):
        raise MalformedDelivery("'changelog' is not an object")
    items = changelog.get("items")
    if items is None:
        return None
    if not isinstance(items, list):
        raise MalformedDelivery("'changelog.items' is not a list")
    for item in items:
        if isinstance(item, Mapping) and (item.get("fieldId") or item.get("field")) == "status":
            return item
    return None


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None


def _name(value: Any) -> str | None:
    name = _get(value, "name")
    return name if isinstance(name, str) else None


def _text(value: Any, where: str, limit: int = NAME_LENGTH) -> str | None:
    """A text of the delivery as the event carries it: numbers (ids) as their digits, NUL
    dropped (PostgreSQL cannot store it), cut to `limit`. Another type is not Jira's shape."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.replace("\x00", "")[:limit]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < 2**64:
        return str(value)[:limit]
    raise MalformedDelivery(f"'{where}' is not text")


# -- REST ------------------------------------------------------------------------------------
class JiraTracker:
    """One Jira site, through an injected `RestClient` (base URL and credentials set)."""

    name = "jira"

    def __init__(
        self,
        client: RestClient,
        *,
        deployment: Deployment = "cloud",
        customer_groups: frozenset[str] = frozenset(),
        retry: RetryPolicy | None = None,
        group_cache_seconds: float = 300.0,
        clock: Any = time.monotonic,
    ) -> None:
        self._client = client
        self.deployment = deployment
        self._api = "/rest/api/3" if deployment == "cloud" else "/rest/api/2"
        self._groups = customer_groups
        self._retry = retry or RetryPolicy()
        self._cache_for = group_cache_seconds
        self._clock = clock
        self._roles: dict[str, tuple[float, Role]] = {}
        self._me: frozenset[str] | None = None

    def parse(self, body: bytes) -> Event:
        return parse_body(body)

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await send(self._client, method, self._api + path, self._retry, **kwargs)

    async def check(self) -> TrackerProblem | None:
        """Whether Jira accepts the bridge's credentials: one call to /myself, its failure in
        words that say what to fix."""
        try:
            self._remember((await self._once("GET", "/myself")).json())
        except TrackerUnauthorized:
            return TrackerProblem(
                "401 from /myself: check BRIDGE_JIRA_USER/BRIDGE_JIRA_TOKEN; Cloud API tokens expire"
            )
        except TrackerRejected as exc:
            if exc.status == 403:
                return TrackerProblem(
                    "403 from /myself: Jira refuses the account; after failed logins it asks for "
                    "a CAPTCHA (log in once in a browser), or check BRIDGE_JIRA_USER/BRIDGE_JIRA_TOKEN"
                )
            return TrackerProblem(f"{exc}; check BRIDGE_JIRA_URL, the site's base URL")
        except TrackerUnavailable as exc:
            tls = ": TLS" in str(exc)
            return TrackerProblem(f"unreachable: {exc}; check BRIDGE_JIRA_URL", blocking=tls)
        return None

    async def permissions_on(self, ticket: str) -> dict[str, bool]:
        """Whether the bridge's account may do on `ticket` what the bridge does there."""
        answer = (
            await self._call(
                "GET", "/mypermissions", params={"issueKey": ticket, "permissions": ",".join(NEEDED)}
            )
        ).json()
        found = answer.get("permissions") or {}
        return {
            label: bool((found.get(key) or {}).get("havePermission")) for key, label in NEEDED.items()
        }

    async def status_names(self) -> set[str]:
        """The names of every status the site has."""
        return {
            s["name"] for s in (await self._call("GET", "/status")).json() if isinstance(s, Mapping)
        }

    def _remember(self, me: dict[str, Any]) -> frozenset[str]:
        self._me = frozenset(str(me[k]) for k in ("accountId", "name", "key") if me.get(k))
        return self._me

    async def identity(self) -> frozenset[str]:
        """Every id the bridge's own account goes by (learnt once from /myself)."""
        if self._me is None:
            return self._remember((await self._call("GET", "/myself")).json())
        return self._me

    async def own_change(self, actor: Actor) -> bool:
        return actor.id is not None and actor.id in await self.identity()

    async def role_of(self, actor: Actor) -> Role:
        if actor.role is not Role.UNKNOWN:
            return actor.role
        if actor.id is None:
            return Role.UNKNOWN
        cached = self._roles.get(actor.id)
        now = self._clock()
        if cached and now - cached[0] < self._cache_for:
            return cached[1]
        try:
            user = (
                await self._call("GET", "/user", params={"username": actor.id, "expand": "groups"})
            ).json()
            groups = {g.get("name") for g in (user.get("groups") or {}).get("items") or []}
            role = Role.CUSTOMER if groups & self._groups else Role.AGENT
        except TrackerRejected:  # an unknown user (deleted since) cannot be judged
            role = Role.UNKNOWN
        self._roles[actor.id] = (now, role)
        return role

    async def get_ticket(self, event: Event, fields: list[str]) -> Ticket:
        wanted = ",".join(dict.fromkeys([*STATUS_FIELDS, *fields]))
        issue = (
            await self._call(
                "GET", f"/issue/{segment(event.ticket)}", params={"fields": wanted, "expand": "transitions"}
            )
        ).json()
        found = issue.get("fields") or {}
        transitions = tuple(
            Transition(str(t["id"]), t.get("name", ""), _name(t.get("to")) or "")
            for t in issue.get("transitions") or []
        )
        return Ticket(issue.get("key", event.ticket), _name(found.get("status")) or "", found, transitions)

    # -- changes: one attempt each; the executor retries after looking what was applied --
    async def transition(self, ticket: str, transition_id: str) -> None:
        await self._once(
            "POST", f"/issue/{segment(ticket)}/transitions", json={"transition": {"id": transition_id}}
        )

    async def comment(self, ticket: str, body: str, *, public: bool, marker: str) -> None:
        """A comment carrying `marker` in an entity property: invisible to people, and how a
        retry recognises the comment as already made."""
        properties = [{"key": MARKER_PROPERTY, "value": {"action": marker}}]
        if not public:
            properties.append({"key": "sd.public.comment", "value": {"internal": True}})
        payload = {
            "body": adf(body) if self.deployment == "cloud" else body,
            "properties": properties,
        }
        await self._once("POST", f"/issue/{segment(ticket)}/comment", json=payload)

    async def status_of(self, ticket: str) -> str:
        issue = (await self._once("GET", f"/issue/{segment(ticket)}", params={"fields": "status"})).json()
        return _name((issue.get("fields") or {}).get("status")) or ""

    async def has_comment(self, ticket: str, marker: str, body: str) -> bool:
        """Whether the bridge's account already made the comment marked `marker`: among the
        ticket's newest comments, those by the bridge with the same text are asked for
        their marker."""
        me = await self.identity()
        page = (
            await self._once(
                "GET",
                f"/issue/{segment(ticket)}/comment",
                params={"orderBy": "-created", "maxResults": str(RECENT_COMMENTS)},
            )
        ).json()
        for found in page.get("comments") or []:
            author = found.get("author") or {}
            if not {str(author.get(k)) for k in ("accountId", "name", "key")} & me:
                continue
            if _lines(comment_text(found.get("body"))) != _lines(body):
                continue
            if await self._marker_of(str(found.get("id"))) == marker:
                return True
        return False

    async def _marker_of(self, comment_id: str) -> str | None:
        path = f"/comment/{segment(comment_id)}/properties/{MARKER_PROPERTY}"
        try:
            prop = (await self._once("GET", path)).json()
        except TrackerRejected:  # 404: a comment of the bridge's without a marker
            return None
        value = prop.get("value") if isinstance(prop, Mapping) else None
        return value.get("action") if isinstance(value, Mapping) else None

    async def _once(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await send_once(self._client, method, self._api + path, **kwargs)

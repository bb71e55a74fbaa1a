"""Jira Cloud and Data Center: deliveries in (parsed in `jira_parsing`), REST calls out.

Cloud speaks REST v3 (comments in Atlassian Document Format), Data Center REST v2 (plain
text). Customers are told apart by `accountType == "customer"` on Cloud and by membership
in configured groups on Data Center (looked up once per user and cached).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import aclosing
from dataclasses import replace
from functools import partial
from typing import Any, Literal

import httpx
import orjson

from bridge.engine import (
    Actor, Comment, Event, Found, Role, StatusChange, Ticket, Transition, WorkedTicket, Worklog,
)
from bridge.trackers.base import (
    Search,
    MalformedDelivery,
    TrackerProblem,
    TrackerRejected,
    TrackerUnauthorized,
    TrackerUnavailable,
)
from bridge.trackers.http import RestClient, RetryPolicy, segment, send, send_once
from bridge.trackers.jira_attachments import delete_attachment
from bridge.trackers.jira_changelog import oldest_first, searched, status_changes
from bridge.trackers.jira_fields import request_channel, update_fields
from bridge.trackers.jira_links import put_remote_link, remote_link_body
from bridge.trackers.jira_subtasks import with_family
from bridge.trackers.jira_parsing import (
    comment_text,
    completed,
    envelope_problem,
    listed_comment,
    parse_body,
    parse_delivery,
    webhook_of,
)
from bridge.trackers.jira_worklogs import organizations_field, searched_worklogs, worked_ticket, worklog_page
from bridge.trackers.jql import search_jql
from bridge.trackers.paging import read_ahead

__all__ = ["JiraTracker", "adf", "comment_text", "envelope_problem", "parse_body", "parse_delivery"]

Deployment = Literal["cloud", "datacenter"]
STATUS_FIELDS = ("status", "issuetype", "project")
SEARCH_FIELDS = (*STATUS_FIELDS, "updated")
WORKED_FIELDS = ("summary", "issuetype", "reporter", "status", "project", "worklog", "updated")
SEARCH_PATHS = {"cloud": "/search/jql", "datacenter": "/search"}
# Tickets per search page: the most Jira Cloud returns when fields are asked for. Changelog
# entries per page of an issue's changelog: the most Jira Cloud returns.
SEARCH_PAGE = 100
CHANGELOG_PAGE = 100
WORKLOG_PAGE = 1000  # worklogs per page of an issue's worklogs, read where a search cut them
# What the bridge does on a ticket, as Jira's permission keys.
NEEDED = {"BROWSE_PROJECTS": "browse", "TRANSITION_ISSUES": "transition", "ADD_COMMENTS": "comment",
          "EDIT_ISSUES": "edit"}  # edit: the fields rules on creation set
MARKER_PROPERTY = "ticket-bridge"  # the comment property naming the action that made it
RECENT_COMMENTS = 50  # how far back a retry, or a search for a reason, looks among comments


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


def _after_token(query: dict[str, str], params: dict[str, str], page: Any) -> dict[str, str] | None:
    """The parameters of the page after `page` of Cloud's enhanced search: the token it
    gives; None after the last."""
    token = page.get("nextPageToken")
    if not token or page.get("isLast") is True:
        return None
    return {**query, "nextPageToken": token}


def _after_offset(query: dict[str, str], params: dict[str, str], page: Any) -> dict[str, str] | None:
    """The parameters of the page after `page` of Data Center's search: past its issues,
    until the total; None after the last."""
    issues = page.get("issues") or []
    start = int(params["startAt"]) + len(issues)
    if not issues or start >= int(page.get("total") or 0):
        return None
    return {**query, "startAt": str(start)}


def _name(value: Any) -> str | None:
    name = value.get("name") if isinstance(value, Mapping) else None
    return name if isinstance(name, str) else None


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
        name: str = "jira",
    ) -> None:
        """`name`: the site's, carried by every event parsed and every record made."""
        self.name = name
        self._client = client
        self.deployment = deployment
        self._api = "/rest/api/3" if deployment == "cloud" else "/rest/api/2"
        self._groups = customer_groups
        self._retry = retry or RetryPolicy()
        self._cache_for = group_cache_seconds
        self._clock = clock
        self._roles: dict[str, tuple[float, Role]] = {}
        self._me: frozenset[str] | None = None
        self._organizations: tuple[str | None] | None = None  # (field id,) once read

    def parse(self, body: bytes) -> Event:
        return parse_body(body, self.name)

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await send(self._client, method, self._api + path, self._retry, **kwargs)

    async def _page(self, path: str, params: dict[str, str]) -> Any:
        """A page of a listing, decoded by orjson: pages are most of what a sweep reads,
        and httpx's `json()` takes about twice as long over them."""
        return orjson.loads((await self._call("GET", path, params=params)).content)

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

    def delivery_of(self, found: Found, change: StatusChange) -> dict[str, Any]:
        return webhook_of(found, change)

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

    async def role_of(self, actor: Actor, project: str | None = None) -> Role:
        """Jira's groups are site-wide: `project` does not matter."""
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

    async def resolve(self, event: Event) -> Event:
        """The event of a delivery that named its ticket by id alone (or by key, without its
        request type), with the ticket's key, project and types as the tracker shows them now."""
        wanted = event.ticket_id or event.ticket
        assert wanted is not None
        path = f"/issue/{segment(wanted)}"
        issue = (await self._call("GET", path, params={"fields": "*all"})).json()
        try:
            return completed(event, issue)
        except MalformedDelivery as exc:
            raise TrackerRejected(f"GET {self._api}{path} answered an unusable issue: {exc}") from None

    async def recent_comments(self, ticket: str) -> tuple[Comment, ...]:
        """The ticket's newest comments, newest first."""
        page = (
            await self._call(
                "GET",
                f"/issue/{segment(ticket)}/comment",
                params={"orderBy": "-created", "maxResults": str(RECENT_COMMENTS)},
            )
        ).json()
        listed = (listed_comment(found) for found in page.get("comments") or [])
        return tuple(comment for comment in listed if comment is not None)

    async def get_ticket(self, event: Event, fields: list[str]) -> Ticket:
        assert event.ticket is not None
        return await self.ticket(event.ticket, fields)

    async def ticket(self, key: str, fields: Iterable[str] = ()) -> Ticket:
        """The ticket as it is now, with the transitions open from its status (one read)."""
        wanted = ",".join(dict.fromkeys([*STATUS_FIELDS, *fields]))
        issue = (
            await self._call(
                "GET", f"/issue/{segment(key)}", params={"fields": wanted, "expand": "transitions"}
            )
        ).json()
        found = issue.get("fields") or {}
        transitions = tuple(
            Transition(str(t["id"]), t.get("name", ""), _name(t.get("to")) or "")
            for t in issue.get("transitions") or []
        )
        return with_family(Ticket(issue.get("key", key), _name(found.get("status")) or "", found, transitions), found)

    # -- what periodic jobs read ---------------------------------------------------------
    async def search(self, wanted: Search) -> AsyncIterator[Found]:
        """Tickets matching every condition, oldest update first, yielded page by page.

        With `with_history`, the search asks for the changelog along with the tickets, and
        an issue's changelog is read on its own only where the answer does not hold all of
        it: the calls grow with the pages and with such tickets, not with every ticket.
        """
        query = {
            "jql": search_jql(
                statuses=wanted.statuses,
                issue_types=wanted.issue_types,
                projects=wanted.projects,
                since=wanted.updated_since,
            ),
            "fields": ",".join(dict.fromkeys([*SEARCH_FIELDS, *wanted.fields])),
            "maxResults": str(SEARCH_PAGE),
        }
        if wanted.with_history:
            query["expand"] = "changelog"
        seen: set[str] = set()
        path = SEARCH_PATHS[self.deployment]
        async with aclosing(self._search_pages(path, query)) as pages:
            async for page in pages:
                for issue in page.get("issues") or []:
                    try:
                        found = searched(issue, with_history=wanted.with_history)
                    except MalformedDelivery as exc:
                        raise TrackerRejected(
                            f"GET {self._api}{path} answered an unusable issue: {exc}"
                        ) from None
                    if found.ticket.key in seen:
                        continue  # updated during the sweep, it moved on to a later page
                    seen.add(found.ticket.key)
                    if wanted.updated_since and found.updated and found.updated < wanted.updated_since:
                        continue  # let in only by the time zones' overlap (see jql.py)
                    if wanted.with_history and found.history is None:
                        found = replace(found, history=await self.history(found.ticket.key))
                    yield found

    def _search_pages(self, path: str, query: dict[str, str]) -> AsyncIterator[Any]:
        """The search's pages, one call a page, each asked for while the page before is
        read: Cloud's enhanced search goes on with the token each page gives for the next,
        Data Center's search by offset."""
        fetch = partial(self._page, path)
        if self.deployment == "cloud":
            return read_ahead(fetch, query, partial(_after_token, query))
        return read_ahead(fetch, {**query, "startAt": "0"}, partial(_after_offset, query))

    async def history(self, ticket: str) -> tuple[StatusChange, ...]:
        """The ticket's whole status history, oldest first. Cloud pages through the issue's
        changelog; Data Center has no such resource and answers the whole changelog with
        the issue."""
        if self.deployment == "cloud":
            path = f"/issue/{segment(ticket)}/changelog"
            entries = [entry async for entry in self._changelog(path)]
        else:
            path = f"/issue/{segment(ticket)}"
            params = {"fields": "status", "expand": "changelog"}
            issue = (await self._call("GET", path, params=params)).json()
            entries = (issue.get("changelog") or {}).get("histories") or []
        try:
            return oldest_first(status_changes(entries, f"{ticket}: changelog"))
        except MalformedDelivery as exc:
            raise TrackerRejected(f"GET {self._api}{path} answered an unusable changelog: {exc}") from None

    async def _changelog(self, path: str) -> AsyncIterator[Any]:
        start = 0
        while True:
            params = {"startAt": str(start), "maxResults": str(CHANGELOG_PAGE)}
            page = await self._page(path, params)
            values = page.get("values") or []
            for entry in values:
                yield entry
            start += len(values)
            if not values or page.get("isLast", start >= int(page.get("total") or 0)):
                return

    async def worked(self, wanted: Search) -> AsyncIterator[WorkedTicket]:
        """Tickets matching `wanted`, each with its whole status history and every worklog.
        The search brings up to 20 worklogs of each ticket; a ticket's worklogs are read on
        their own only where it has more."""
        organizations = await self.organizations_field()
        extra = [*WORKED_FIELDS, *([organizations] if organizations else []), *wanted.fields]
        path = SEARCH_PATHS[self.deployment]
        searching = self.search(replace(wanted, fields=extra, with_history=True))
        async with aclosing(searching) as found_tickets:
            async for found in found_tickets:
                try:
                    listed = searched_worklogs(found.ticket.fields, found.ticket.key)
                    if listed is None:
                        listed = await self.worklogs(found.ticket.key)
                    ticket = worked_ticket(found, listed, organizations)
                except MalformedDelivery as exc:
                    raise TrackerRejected(
                        f"GET {self._api}{path} answered an unusable issue: {exc}"
                    ) from None
                yield ticket

    async def organizations_field(self) -> str | None:
        """The id of the site's Jira Service Management organisations field (None: the site
        has none), asked of `GET /field` once."""
        if self._organizations is None:
            try:
                self._organizations = (organizations_field((await self._call("GET", "/field")).json()),)
            except MalformedDelivery as exc:
                raise TrackerRejected(f"GET {self._api}/field answered unusable fields: {exc}") from None
        return self._organizations[0]

    async def worklogs(self, ticket: str) -> tuple[Worklog, ...]:
        """Every worklog on the ticket, oldest first, page by page."""
        path, start, found = f"/issue/{segment(ticket)}/worklog", 0, []
        while True:
            params = {"startAt": str(start), "maxResults": str(WORKLOG_PAGE)}
            page = await self._page(path, params)
            try:
                listed, total = worklog_page(page, f"{ticket}: worklog")
            except MalformedDelivery as exc:
                raise TrackerRejected(f"GET {self._api}{path} answered unusable worklogs: {exc}") from None
            found.extend(listed)
            start += len(listed)
            if not listed or start >= total:
                return tuple(found)

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

    async def remote_link(self, ticket: str, global_id: str, url: str, title: str, resolved: bool) -> None:
        """A link on the ticket to `url`, kept as one by its `global_id` (see `jira_links`)."""
        body = remote_link_body(global_id, url, title, resolved)
        await put_remote_link(self._client, self._api, ticket, body)

    async def remove_attachment(self, attachment: str) -> bool:
        return await delete_attachment(self._client, self._api, attachment)
    async def set_fields(self, ticket: str, fields: dict[str, Any]) -> None:
        await update_fields(self._client, self._api, ticket, fields)

    async def channel(self, ticket: str) -> str | None:
        """Where the request came in (see `jira_fields`): asked only of new tickets whose
        workflow has a rule about it."""
        return await request_channel(self._client, self._api, self._retry, ticket)

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

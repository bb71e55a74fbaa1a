"""Jira development projects: feature issues read by key and linked back to the ticket.

The development project is on the tickets' own Jira site by default, reached with the
tracker's client and REST version; `BRIDGE_DEV_JIRA_URL` (with `_USER` and `_TOKEN`) puts it on
another site, spoken to in REST v2, which Cloud and Data Center both serve, since nothing says
which of the two that site is. On one site the two issues get an issue link; across sites
the development issue gets a remote link to the ticket (and the ticket one to it, made by
the tracker), each kept as one by its globalId (`bridge.trackers.jira_links`).

Issues are read one `GET /issue/{key}` each, a few at a time, with 404 meaning "no such
issue", rather than in one search `key in (…)`:

- a search answers 400 for the whole query when one key names no issue (Cloud's
  `/search/jql` has no `validateQuery` to soften that), so a single mistyped number would
  hide every other item;
- Cloud's search reads an index that "might not immediately" show recent updates (its
  OpenAPI says so), while the bridge must judge an item as it is now, not a moment ago;
- `POST /issue/bulkfetch` reads current data but exists on Cloud only, and answers a moved
  issue under its new key in id order, leaving which key it came from to guesswork.

A ticket names one or a few items; reconcile reads the open ones each sweep, so the calls
stay within what a sweep already makes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import httpx
from httpx_aiohttp import AiohttpTransport

from bridge import __version__
from bridge.config import Settings
from bridge.engine import DevItem
from bridge.engine.model import KEY_LENGTH
from bridge.trackers.base import TrackerRejected
from bridge.trackers.http import RestClient, RetryPolicy, segment, send
from bridge.trackers.jira_links import global_id, link_issues, put_remote_link, remote_link_body
from bridge.trackers.jira_parsing import ISSUE_KEY

__all__ = ["JiraDevProvider", "jira_dev_provider"]

Deployment = Literal["cloud", "datacenter"]
APIS = {"cloud": "/rest/api/3", "datacenter": "/rest/api/2", None: "/rest/api/2"}
READS_AT_ONCE = 4  # concurrent issue reads: quick for a sweep, gentle on the site's rate limit


class JiraDevProvider:
    """Issues of a Jira development project, through an injected `RestClient`. `same_site`:
    the tickets live on the same site, so the two issues can be linked directly."""

    name = "jira"

    def __init__(
        self,
        client: RestClient,
        *,
        deployment: Deployment | None = None,
        same_site: bool = True,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.client = client
        self._api = APIS[deployment]
        self.same_site = same_site
        self._retry = retry or RetryPolicy()

    async def items(self, ids: Sequence[str]) -> dict[str, DevItem]:
        """The issues that exist among `ids`; a key not shaped like one is left out unasked.
        Every read finishes before a failure is raised, so no call is left running."""
        keys = list(dict.fromkeys(k for k in ids if len(k) <= KEY_LENGTH and ISSUE_KEY.fullmatch(k)))
        gate = asyncio.Semaphore(READS_AT_ONCE)

        async def read(key: str) -> DevItem | None:
            async with gate:
                return await self._read(key)

        results = await asyncio.gather(*(read(k) for k in keys), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return {item.id: item for item in results if isinstance(item, DevItem)}

    async def _read(self, key: str) -> DevItem | None:
        path = f"{self._api}/issue/{segment(key)}"
        try:
            params = {"fields": "status,summary"}
            response = await send(self.client, "GET", path, self._retry, params=params)
        except TrackerRejected as exc:
            if exc.status == 404:  # no such issue, or one the account may not see: none to link
                return None
            raise
        issue = response.json()
        fields = issue.get("fields") if isinstance(issue, Mapping) else None
        status = _get(fields, "status")
        state = _get(status, "name")
        if not isinstance(state, str) or not state:
            raise TrackerRejected(f"GET {path} answered an issue without a status")
        summary = _get(fields, "summary")
        current = _get(issue, "key")  # a moved issue answers under its new key
        shown = current if isinstance(current, str) and ISSUE_KEY.fullmatch(current) else key
        return DevItem(
            id=key,
            state=state,
            title=summary if isinstance(summary, str) else "",
            url=f"{self.client.base_url}/browse/{shown}",
        )

    async def link_back(self, item: str, ticket: str, ticket_url: str) -> None:
        """Same site: a Relates link between the issues unless one links them already.
        Other site: a remote link on the development issue to the ticket, by globalId."""
        if not ISSUE_KEY.fullmatch(item) or len(item) > KEY_LENGTH:
            raise TrackerRejected(f"{item[:40]!r} is not a Jira issue key")
        if self.same_site:
            await link_issues(self.client, self._api, self._retry, item, ticket)
            return
        body = remote_link_body(global_id("ticket", ticket_url), ticket_url, ticket)
        await put_remote_link(self.client, self._api, item, body)


def jira_dev_provider(
    settings: Settings,
    tracker_client: RestClient | None,
    *,
    retry: RetryPolicy | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> JiraDevProvider | None:
    """The provider the settings describe: the tracker's own site unless `BRIDGE_DEV_JIRA_URL`
    names another (the same URL counts as the same site); None with neither configured."""
    other = settings.dev_jira_url
    if other is not None and not _same_url(str(other), str(settings.jira_url or "")):
        if transport is None:
            transport = AiohttpTransport(limits=httpx.Limits(max_connections=16))
        token = settings.dev_jira_token
        client = RestClient(
            str(other),
            transport=transport,
            user=settings.dev_jira_user,
            token=token.get_secret_value() if token else None,
            timeout=settings.tracker_timeout_seconds,
            user_agent=f"ticket-bridge/{__version__}",
        )
        return JiraDevProvider(client, same_site=False, retry=retry)
    if tracker_client is None:
        return None
    return JiraDevProvider(tracker_client, deployment=settings.jira_deployment, retry=retry)


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None

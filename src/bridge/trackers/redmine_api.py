"""The one way the Redmine adapter reaches Redmine: errors mapped, HTML refused, JSON read.

Redmine and the proxies in front of it answer HTML where JSON was asked for more often than
Jira does: the login page with 200 when the REST API is off or a single sign-on stands in
front, a proxy's error page. Such an answer is never taken as data: a login page means the
key is not taken (`TrackerUnauthorized`), any other page a Redmine not reachable as it should
be (`TrackerUnavailable`, tried again). 403 is a permission the bot's role lacks, 422 Redmine's
validation (`{"errors": [...]}`, its messages kept); 429 and 5xx wait as `Retry-After` says.
Every message names the URL; the API key is in a header only, so none can carry it.

An id put into a path is digits or refused before any call (`path_id`), so no value a delivery
or a workflow holds can reach another resource.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from functools import partial
from typing import Any, NoReturn

import httpx
import orjson

from bridge.trackers.base import (
    MalformedDelivery, TrackerError, TrackerRejected, TrackerUnauthorized, TrackerUnavailable,
)
from bridge.trackers.http import RestClient, RetryPolicy, send_once
from bridge.trackers.paging import read_ahead
from bridge.trackers.redmine_issues import digits, get

PAGE = 100  # Redmine answers at most 100 per page, whatever is asked
API_SETTING = "Administration → Settings → API → Enable REST web service"


class RedmineApi:
    """Calls (reads retried, changes sent once), cached look-ups and paged listings."""

    def __init__(
        self, client: RestClient, retry: RetryPolicy, cache_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.retry = retry
        self.cache_for = cache_seconds
        self.clock = clock
        self._cache: dict[str, tuple[float, Any]] = {}

    async def send(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call; its decoded answer (None for an empty one, as `PUT` answers 204)."""
        where = f"{method} {self.client.base_url}{path}"
        try:
            response = await send_once(self.client, method, path, **kwargs)
        except TrackerRejected as exc:
            raise _refused(where, exc) from None
        except (TrackerUnavailable, TrackerUnauthorized) as exc:
            raise _without_page(where, exc) from None
        body = response.content.strip()
        if not body:
            return None
        if "html" in response.headers.get("content-type", "").lower() or body[:1] == b"<":
            raise _html(where, response)
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise TrackerUnavailable(f"{where}: {response.status_code} answered something that is not JSON") from None

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        """A read, retried while Redmine is unavailable (or answers a proxy's error page)."""
        async for attempt in self.retry.retrying():
            with attempt:
                return await self.send("GET", path, params=dict(params or {}))
        raise AssertionError("unreachable")  # pragma: no cover

    async def issue(self, ticket: str, include: str = "", *, once: bool = False) -> Mapping[str, Any]:
        """`GET /issues/{id}.json`, with `include` (journals, children…); `once`: one attempt."""
        path = f"/issues/{path_id(ticket)}.json"
        params = {"include": include} if include else {}
        answer = await (self.send("GET", path, params=params) if once else self.get(path, params))
        found = get(answer, "issue")
        if not isinstance(found, Mapping):
            raise TrackerRejected(f"GET {path} answered no 'issue'")
        return found

    async def cached(self, name: str, load: Callable[[], Awaitable[Any]]) -> Any:
        """What `load` gives, asked again only once `cache_for` seconds have passed."""
        now = self.clock()
        found = self._cache.get(name)
        if found is None or now - found[0] >= self.cache_for:
            found = (now, await load())
            self._cache[name] = found
        return found[1]

    async def pages(self, path: str, query: Mapping[str, str], listed: str) -> AsyncIterator[list[Any]]:
        """A listing's pages by offset, each asked for while the one before is read."""

        def following(params: dict[str, str], page: Any) -> dict[str, str] | None:
            items, total = get(page, listed), get(page, "total_count")
            start = int(params["offset"]) + (len(items) if isinstance(items, list) else 0)
            if not items or not isinstance(total, int) or start >= total:
                return None
            return {**params, "offset": str(start)}

        first = {**query, "limit": str(PAGE), "offset": "0"}
        async with aclosing(read_ahead(partial(self.get, path), first, following)) as found:
            async for page in found:
                items = get(page, listed)
                if not isinstance(items, list):
                    raise TrackerRejected(f"GET {path} answered no '{listed}' list")
                yield items


def path_id(value: str) -> str:
    """An id for a path (an issue's, an attachment's, a project's): digits, else refused."""
    found = digits(value)
    if found is None:
        raise TrackerRejected(f"{str(value)[:40]!r} is not a Redmine id (digits only)")
    return found


def unknown(what: str, name: Any) -> NoReturn:
    raise TrackerRejected(f"Redmine has no {what} named {str(name)[:80]!r}")


def usable(call: str, read: Callable[..., Any], *args: Any) -> Any:
    """`read(*args)` over an answer of `call`; one not shaped like Redmine's is refused."""
    try:
        return read(*args)
    except MalformedDelivery as exc:
        raise TrackerRejected(f"{call} answered something unusable: {exc}") from None


def _refused(where: str, exc: TrackerRejected) -> TrackerRejected | TrackerUnauthorized:
    if exc.status is not None and 300 <= exc.status < 400 and "login" in str(exc):
        return TrackerUnauthorized(f"{where}: {exc.status} redirected to the login page: the API key is not "
                                   f"taken, or the REST API is off ({API_SETTING})", status=exc.status)
    if exc.status == 403:
        detail = str(exc).partition(": 403")[2].strip()
        return TrackerRejected(
            f"{where}: 403 Redmine refuses the bridge's account this{f' ({detail})' if detail else ''}: "
            "give its role the permission (Administration → Roles and permissions) in the issue's project",
            status=403,
        )
    return exc


def _without_page(where: str, exc: TrackerUnavailable | TrackerUnauthorized) -> TrackerError:
    """The error, without the HTML page a proxy answered it with."""
    detail = str(exc).partition(f": {exc.status} ")[2] if exc.status else ""
    if not detail.lstrip().startswith("<"):
        return exc
    text = f"{where}: {exc.status} answered an HTML page (a proxy's error page?)"
    return type(exc)(text, retry_after=exc.retry_after, status=exc.status)


def _html(where: str, response: httpx.Response) -> TrackerUnauthorized | TrackerUnavailable:
    """An HTML page where JSON was asked for: Redmine's login page (the REST API is off, or a
    single sign-on stands in front), else a proxy's error page (tried again)."""
    page = response.content[:20_000].lower()
    if b'type="password"' in page or (b"login" in page and b"password" in page):
        return TrackerUnauthorized(f"{where}: {response.status_code} answered a login page, not JSON: enable "
                                   f"{API_SETTING}, and let the API through any single sign-on in front")
    return TrackerUnavailable(f"{where}: {response.status_code} answered an HTML page, not JSON "
                              "(a proxy's error page?); check BRIDGE_REDMINE_URL", status=response.status_code)

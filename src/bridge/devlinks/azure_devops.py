"""Azure DevOps Boards: work items read and linked back over REST, and its service hooks.

The base URL is the project's (`https://dev.azure.com/{organization}/{project}`, or a Server
collection URL and project); the personal access token goes as the password of HTTP Basic
with an empty user name, which is how Azure DevOps takes one.

Items are read in batches of at most 200, the most the API takes, with `errorPolicy=omit`:
an id that does not exist (or that the token may not read) then comes back as `null` in its
place instead of failing the whole batch with 404 `TF401232`. A server that answers the batch
so anyway is asked id by id, where 404 `TF401232` means that one item does not exist. A 404
with another code (`TF200016`: no such project) is a wrong URL, never a missing item.

A service hook carries no signature (the intake checks its Basic credentials); what it says
is taken as a hint of the item and its state, parsed without I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import httpx
import orjson
from httpx_aiohttp import AiohttpTransport

from bridge import __version__
from bridge.config import Settings
from bridge.devlinks.base import ItemChange
from bridge.engine import DevItem
from bridge.trackers.base import (
    MalformedDelivery,
    TrackerRejected,
    TrackerUnauthorized,
)
from bridge.trackers.http import RestClient, RetryPolicy, send, send_once

__all__ = ["AzureDevOps", "devops_client", "hook_problem", "parse_hook"]

API_VERSION = "7.1"
BATCH = 200  # ids per batch read: the most the API accepts
FIELDS = "System.State,System.Title"
NOT_FOUND = "TF401232"  # "Work item N does not exist, or you do not have permissions to read it"
JSON_PATCH = "application/json-patch+json"
HOOK_EVENTS = ("workitem.updated", "workitem.created", "workitem.restored")
ID_LIMIT = 2**31 - 1  # work item ids are 32-bit; a longer number is no item's


def devops_client(settings: Settings, transport: httpx.AsyncBaseTransport | None = None) -> RestClient:
    """The project's REST client: `BRIDGE_DEVOPS_URL`, and `BRIDGE_DEVOPS_TOKEN` as the Basic
    password with no user name."""
    if settings.devops_url is None:
        raise ValueError("BRIDGE_DEVOPS_URL is not set")
    if transport is None:
        transport = AiohttpTransport(limits=httpx.Limits(max_connections=16))
    token = settings.devops_token
    return RestClient(
        str(settings.devops_url),
        transport=transport,
        token=token.get_secret_value() if token else None,
        basic=True,
        timeout=settings.tracker_timeout_seconds,
        user_agent=f"ticket-bridge/{__version__}",
    )


def work_item_id(value: str) -> int | None:
    """The work item number `value` names, or None where it cannot name one: such an id is
    left out without asking (it would not exist, and it never reaches a URL)."""
    if not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 0 < number <= ID_LIMIT else None


class AzureDevOps:
    """Work items of one Azure DevOps project, through an injected `RestClient`."""

    name = "azure-devops"

    def __init__(self, client: RestClient, *, retry: RetryPolicy | None = None) -> None:
        self._client = client
        self._retry = retry or RetryPolicy()

    async def items(self, ids: Sequence[str]) -> dict[str, DevItem]:
        """The items that exist among `ids`, 200 to a call, each under the id as asked."""
        asked: dict[int, str] = {}
        for ident in ids:
            number = work_item_id(ident)
            if number is not None:
                asked.setdefault(number, ident)
        numbers = list(asked)
        found: dict[str, DevItem] = {}
        for start in range(0, len(numbers), BATCH):
            for item in await self._batch(numbers[start : start + BATCH]):
                ident = asked[int(item.id)]
                found[ident] = replace(item, id=ident)
        return found

    async def _batch(self, numbers: list[int]) -> list[DevItem]:
        path = "/_apis/wit/workitems"
        params = {
            "ids": ",".join(map(str, numbers)),
            "fields": FIELDS,
            "errorPolicy": "omit",
            "api-version": API_VERSION,
        }
        try:
            answer = await self._json("GET", path, params=params)
        except TrackerRejected as exc:
            if not _missing(exc):
                raise
            return [item for n in numbers if (item := await self._one(n)) is not None]
        listed = answer.get("value") if isinstance(answer, Mapping) else None
        if not isinstance(listed, list):
            raise TrackerRejected(f"GET {path} answered no list of work items")
        asked = {str(n) for n in numbers}
        items = [self._item(found, path) for found in listed if found is not None]
        return [item for item in items if item.id in asked]

    async def _one(self, number: int) -> DevItem | None:
        path = f"/_apis/wit/workitems/{number}"
        try:
            found = await self._json("GET", path, params={"fields": FIELDS, "api-version": API_VERSION})
        except TrackerRejected as exc:
            if _missing(exc):
                return None
            raise
        return self._item(found, path)

    def _item(self, found: Any, path: str) -> DevItem:
        """A work item as the API answers it; one without an id or state is no work item,
        and the call is refused rather than an item judged on a guess."""
        fields = found.get("fields") if isinstance(found, Mapping) else None
        number = found.get("id") if isinstance(found, Mapping) else None
        state = fields.get("System.State") if isinstance(fields, Mapping) else None
        if not _is_number(number) or not isinstance(state, str):
            raise TrackerRejected(f"GET {path} answered a work item without an id or a state")
        assert isinstance(fields, Mapping)
        title = fields.get("System.Title")
        return DevItem(
            id=str(number),
            state=state,
            title=title if isinstance(title, str) else "",
            url=_web_url(found) or f"{self._client.base_url}/_workitems/edit/{number}",
        )

    async def link_back(self, item: str, ticket: str, ticket_url: str) -> None:
        """A Hyperlink relation from the work item to the ticket, added once: the item's
        relations are read first (retried), the relation added only where none points to
        the ticket (sent once, as a JSON Patch)."""
        number = work_item_id(item)
        if number is None:
            raise TrackerRejected(f"{item[:40]!r} is not an Azure DevOps work item number")
        path = f"/_apis/wit/workitems/{number}"
        found = await self._json("GET", path, params={"$expand": "relations", "api-version": API_VERSION})
        relations = found.get("relations") if isinstance(found, Mapping) else None
        if _links_to(relations or [], ticket_url):
            return
        patch = [
            {
                "op": "add",
                "path": "/relations/-",
                "value": {"rel": "Hyperlink", "url": ticket_url, "attributes": {"comment": ticket}},
            }
        ]
        await send_once(
            self._client, "PATCH", path, params={"api-version": API_VERSION}, json=patch,
            content_type=JSON_PATCH,
        )

    def parse_hook(self, body: bytes) -> ItemChange:
        return parse_hook(body)

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer decoded. Azure DevOps may answer a token it does not take with its
        sign-in page (203, HTML) instead of 401: that is a token to fix, not a broken answer."""
        response = await send(self._client, method, path, self._retry, **kwargs)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            if response.status_code == 203:
                raise TrackerUnauthorized(
                    f"{method} {path}: 203 sign-in page; check BRIDGE_DEVOPS_TOKEN", status=203
                ) from None
            raise TrackerRejected(
                f"{method} {path}: {response.status_code} answer is not JSON; check BRIDGE_DEVOPS_URL",
                status=response.status_code,
            ) from None


def _missing(exc: TrackerRejected) -> bool:
    return exc.status == 404 and NOT_FOUND in str(exc)


def _is_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _web_url(found: Mapping[str, Any]) -> str | None:
    links = found.get("_links")
    html = links.get("html") if isinstance(links, Mapping) else None
    href = html.get("href") if isinstance(html, Mapping) else None
    return href if isinstance(href, str) and href.startswith(("https://", "http://")) else None


def _links_to(relations: Iterable[Any], url: str) -> bool:
    wanted = url.rstrip("/")
    return any(
        isinstance(r, Mapping)
        and r.get("rel") == "Hyperlink"
        and isinstance(r.get("url"), str)
        and r["url"].rstrip("/") == wanted
        for r in relations
    )


# -- service hooks ---------------------------------------------------------------------------
def hook_problem(payload: Any) -> str | None:
    """Why a body is not a work item hook the bridge follows, or None; cheap enough for
    the intake to refuse it before storing. Takes the parsed body (as the intake's envelope
    checks do) or the raw bytes."""
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            return f"body is not JSON: {exc}"
    if not isinstance(payload, Mapping) or not isinstance(payload.get("eventType"), str):
        return "not an Azure DevOps service hook: 'eventType' is missing"
    event = payload["eventType"]
    if event not in HOOK_EVENTS:
        return f"eventType {event[:80]!r} is not one the bridge follows ({', '.join(HOOK_EVENTS)})"
    resource = payload.get("resource")
    if not isinstance(resource, Mapping):
        return f"{event}: 'resource' is missing"
    if _hook_item(event, resource) is None:
        return f"{event}: 'resource.workItemId' (or 'resource.revision.id') is missing"
    return None


def parse_hook(body: bytes) -> ItemChange:
    """The item a service hook is about and the state it names, raising MalformedDelivery
    with the reason for anything else."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedDelivery(f"body is not JSON: {exc}") from None
    problem = hook_problem(payload)
    if problem is not None:
        raise MalformedDelivery(problem)
    resource = payload["resource"]
    item = _hook_item(payload["eventType"], resource)
    assert item is not None
    rev = resource.get("rev")
    revision = str(rev) if _is_number(rev) else None
    return ItemChange(item=str(item), state=_hook_state(resource), revision=revision)


def _hook_item(event: str, resource: Mapping[str, Any]) -> int | None:
    """`workItemId` of an update, or its revision's id where that is 0 or absent (Microsoft's
    published sample sends 0); for a created or restored item the resource is the item."""
    revision = resource.get("revision")
    candidates = [resource.get("workItemId"), _get(revision, "id")]
    if event != "workitem.updated":
        candidates.append(resource.get("id"))  # an update's own `id` is the update's number
    for value in candidates:
        if isinstance(value, str) and value.isascii() and value.isdigit():
            value = int(value)
        if _is_number(value) and value <= ID_LIMIT:
            return value
    return None


def _hook_state(resource: Mapping[str, Any]) -> str | None:
    """The state the hook says the item is in: the change's new value where the state
    changed, else the revision's. The change comes first because Microsoft's published
    update sample pairs `New → Approved` with a revision still saying `New`."""
    changed = _get(resource.get("fields"), "System.State")
    if isinstance(changed, Mapping):
        changed = changed.get("newValue")
    if isinstance(changed, str) and changed:
        return changed
    current = _get(_get(resource.get("revision"), "fields"), "System.State")
    return current if isinstance(current, str) and current else None


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None

"""The state of one fake Azure DevOps project: its work items, the JSON shapes the service
shows them in, and the `workitem.updated` service hooks it sends when one changes.

Shapes follow the recorded samples under tests/fixtures/azure-devops/: a work item as
`GET _apis/wit/workitems/{id}` answers it, and a service hook whose `resource.fields` holds
what changed as `{oldValue, newValue}` and whose `resource.revision.fields` holds the whole
new revision.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.standin.faults import Fault, new_fault
from tests.standin.sending import deliver

DEFAULT_TYPE = "Product Backlog Item"
DEVELOPER = {"id": "e1a2b3c4-0000-1111-2222-333344445555", "displayName": "Eva Vývojářová",
             "uniqueName": "eva@example.cz"}
ACCOUNT = {"id": "b7c8d9e0-1111-2222-3333-444455556666", "displayName": "Ticket Bridge",
           "uniqueName": "bridge@example.com"}  # who the token belongs to
LATEST_REVISION = "9999-01-01T00:00:00Z"  # what the service sends as the latest revision's date
IDS = {"subscription": "6d2b8d5c-0f9e-4c1a-9a77-4e0b1c2d3e4f",
       "collection": "c1d2e3f4-aaaa-bbbb-cccc-ddddeeeeffff",
       "account": "0a1b2c3d-1111-2222-3333-444455556666",
       "project": "9f8e7d6c-5555-4444-3333-222211110000"}


def devops_time(moment: datetime | None = None) -> str:
    """A time as Azure DevOps writes it: UTC, milliseconds, `Z`."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class WorkItem:
    id: int
    rev: int
    fields: dict[str, Any]
    relations: list[dict[str, Any]] = field(default_factory=list)


class DevOpsStandin:
    """One organisation's project; `create_app(standin)` serves it over HTTP.

    `transport` replaces the network for service hook deliveries (an httpx.MockTransport in
    tests)."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport
        self._pending: set[asyncio.Task[None]] = set()
        self.reset()

    def reset(self, organization: str = "example-org", project: str = "ERP",
              token: str | None = None, account: dict[str, Any] | None = None) -> None:
        """`organization` is the path before the project: a Server collection may be
        `tfs/DefaultCollection`. `token`: the personal access token accepted (None: any)."""
        self.organization = organization.strip("/")
        self.project = project
        self.token = token
        self.account = {**ACCOUNT, **(account or {})}
        self.items: dict[int, WorkItem] = {}
        self.hook: dict[str, Any] | None = None
        self.deliveries: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.calls: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._notifications = itertools.count(1)

    def load(self, seed: dict[str, Any]) -> None:
        """Reset, then apply a seed: the document of --state-file and POST /_standin/reset."""
        self.reset(seed.get("organization", "example-org"), seed.get("project", "ERP"),
                   seed.get("token"), seed.get("account"))
        for item in seed.get("items", []):
            self.add_item(item)
        for fault in seed.get("faults", []):
            self.faults.append(new_fault(fault))
        if seed.get("hook"):
            self.set_hook(**seed["hook"])

    # --- seeding -----------------------------------------------------------------------------
    def add_item(self, data: dict[str, Any]) -> WorkItem:
        """A work item as a seed describes it: `id` (default: the next free one), `type`,
        `title`, `state` (default New), more `fields` by reference name, `relations`."""
        item_id = int(data["id"]) if data.get("id") is not None else self._next_id()
        if item_id in self.items:
            raise ValueError(f"work item {item_id} exists already")
        made = devops_time()
        state = data.get("state", "New")
        fields = {
            "System.Id": item_id, "System.AreaPath": self.project,
            "System.TeamProject": self.project, "System.IterationPath": self.project,
            "System.WorkItemType": data.get("type", DEFAULT_TYPE), "System.State": state,
            "System.Reason": f"New {data.get('type', DEFAULT_TYPE)}" if state == "New" else f"Moved to {state}",
            "System.CreatedDate": made, "System.ChangedDate": made,
            "System.Title": data.get("title", f"Work item {item_id}"), **data.get("fields", {}),
        }
        item = WorkItem(item_id, int(data.get("rev", 1)), fields, list(data.get("relations", [])))
        self.items[item_id] = item
        return item

    def _next_id(self) -> int:
        while (candidate := next(self._ids)) in self.items:
            pass
        return candidate

    def set_hook(self, url: str | None, user: str = "", password: str | None = None,
                 field: str | None = None) -> None:
        """The service hook subscription: `workitem.updated` to `url` with HTTP Basic
        credentials; with `field` (e.g. System.State) only updates that change that field
        are sent, as the subscription's field filter does."""
        self.hook = {"url": url, "user": user, "password": password, "field": field} if url else None

    def add_fault(self, data: dict[str, Any]) -> Fault:
        fault = new_fault(data)
        self.faults.append(fault)
        return fault

    # --- shapes ------------------------------------------------------------------------------
    def collection_url(self, base: str) -> str:
        return f"{base}/{self.organization}"

    def item_url(self, item_id: int, base: str) -> str:
        return f"{self.collection_url(base)}/_apis/wit/workItems/{item_id}"

    def item_json(self, item: WorkItem, base: str, fields: list[str] | None = None,
                  relations: bool = False, links: bool = True) -> dict[str, Any]:
        """The work item as the REST API shows it: only the `fields` asked for (those with
        a value), its relations when expanded, its links unless fields were chosen."""
        chosen = item.fields if fields is None else {
            name: item.fields[name] for name in fields if item.fields.get(name) is not None}
        shown: dict[str, Any] = {"id": item.id, "rev": item.rev, "fields": dict(chosen)}
        if relations and item.relations:
            shown["relations"] = [dict(r) for r in item.relations]
        if links:
            html = f"{self.collection_url(base)}/{self.project}/_workitems/edit/{item.id}"
            shown["_links"] = {"html": {"href": html}}
        shown["url"] = self.item_url(item.id, base)
        return shown

    def state_json(self, item: WorkItem) -> dict[str, Any]:
        """The work item as the control read `GET /_standin/workitems/{id}` shows it."""
        return {"id": item.id, "rev": item.rev, "type": item.fields["System.WorkItemType"],
                "title": item.fields.get("System.Title"), "state": item.fields["System.State"],
                "fields": item.fields, "relations": item.relations}

    # --- changes -----------------------------------------------------------------------------
    def update(self, item: WorkItem, fields: dict[str, Any], relations: list[dict[str, Any]],
               by: dict[str, Any], base: str) -> dict[str, Any]:
        """Apply one revision (field values, relations added) made by `by`; return the
        `workitem.updated` service hook body it makes."""
        changed: dict[str, dict[str, Any]] = {}
        new = dict(fields)
        if "System.State" in new and new["System.State"] != item.fields.get("System.State"):
            new.setdefault("System.Reason", f"Moved to {new['System.State']}")
        new.update({"System.Rev": item.rev + 1, "System.ChangedDate": devops_time()})
        before = {**item.fields, "System.Rev": item.rev}
        for name, value in new.items():
            if before.get(name) != value:
                change = {"newValue": value}
                if before.get(name) is not None:
                    change = {"oldValue": before[name], **change}
                changed[name] = change
        item.fields.update({k: v for k, v in new.items() if k != "System.Rev"})
        item.relations.extend(relations)
        item.rev += 1
        return self._hook_body(item, changed, relations, by, base)

    def _hook_body(self, item: WorkItem, changed: dict[str, Any], added: list[dict[str, Any]],
                   by: dict[str, Any], base: str) -> dict[str, Any]:
        kind, title = item.fields["System.WorkItemType"], item.fields.get("System.Title")
        detail = f"{kind} #{item.id} updated by {by['displayName']}"
        if "System.State" in changed:
            state = changed["System.State"]
            detail += f"\r\n\r\nState changed from {state.get('oldValue')} to {state['newValue']}"
        resource: dict[str, Any] = {
            "id": item.rev, "workItemId": item.id, "rev": item.rev, "revisedBy": dict(by),
            "revisedDate": LATEST_REVISION, "fields": changed,
        }
        if added:
            resource["relations"] = {"added": [dict(r) for r in added]}
        item_url = self.item_url(item.id, base)
        resource["revision"] = {"id": item.id, "rev": item.rev, "fields": dict(item.fields),
                                "url": f"{item_url}/revisions/{item.rev}"}
        resource["url"] = f"{item_url}/updates/{item.rev}"
        return {
            "subscriptionId": IDS["subscription"], "notificationId": next(self._notifications),
            "id": str(uuid.uuid4()), "eventType": "workitem.updated", "publisherId": "tfs",
            "message": {"text": f"{kind} #{item.id} ({title}) updated by {by['displayName']}"},
            "detailedMessage": {"text": detail}, "resource": resource, "resourceVersion": "1.0",
            "resourceContainers": {name: {"id": IDS[name]} for name in ("collection", "account", "project")},
            "createdDate": devops_time(),
        }

    def authorized(self, header: str | None) -> bool:
        """HTTP Basic with an empty user name and the personal access token."""
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        if not sep or user or not password:
            return False
        return self.token is None or password == self.token

    # --- service hooks -----------------------------------------------------------------------
    def emit(self, body: dict[str, Any]) -> None:
        """Send the hook in the background, as the service does, if the subscription wants it."""
        hook = self.hook
        wanted = hook and (hook["field"] is None or hook["field"] in body["resource"]["fields"])
        if wanted:
            task = asyncio.get_running_loop().create_task(self._deliver(dict(hook), body))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def resend(self, index: int) -> dict[str, Any]:
        """Send delivery `index` again, unchanged (its event id too), as a retry does."""
        sent = self.deliveries[index]
        hook = {**(self.hook or {}), "url": sent["url"]}
        task = asyncio.get_running_loop().create_task(self._deliver(hook, sent["body"]))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return sent["body"]

    async def _deliver(self, hook: dict[str, Any], body: dict[str, Any]) -> None:
        raw = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": "VSServices/16.255.0 (Azure DevOps stand-in)"}
        if hook.get("password") is not None:
            pair = f"{hook.get('user') or ''}:{hook['password']}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        await deliver(self._transport, self.deliveries, hook["url"], raw, headers,
                      event=body["id"], item=body["resource"]["workItemId"], body=body)

    async def drain(self) -> None:
        """Wait until every hook delivery started so far has finished."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

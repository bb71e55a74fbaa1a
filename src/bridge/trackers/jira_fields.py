"""A Jira issue's fields set by the bridge, and the channel a request came in by.

How Jira tells an e-mailed request apart: Jira Service Management records where each
request came from in the issue's entity property `request.channel.type`, as
`{"value": "email"}`; the other values are `portal`, `anonymousportal`, `api` (REST or Java
API) and `jira` (created in Jira itself) — the names of its public
`CustomerRequestChannelSource` (docs.atlassian.com/jira-servicedesk/…/api/request/
CustomerRequestChannelSource.html), which JQL searches as `request-channel-type = email`.
It is a property, not a field: a webhook delivery's `issue.fields` never carries it (a
webhook reports a property only through the `issue_property_set` event), so it is read with
`GET /issue/{key}?properties=request.channel.type`, whose answer holds
`"properties": {"request.channel.type": {"value": "email"}}` — the shape public
ScriptRunner scripts read (`issue.properties["request.channel.type"].value`) and Data
Center's `entity_property` table stores (`json_value ->> 'value'`). An issue outside a
service project has no such property.

Fields are set with `PUT /issue/{key}` and `fields`; Jira answers 204 and sends its own
`jira:issue_updated` delivery, which the bridge records as its own change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.trackers.http import RestClient, RetryPolicy, segment, send, send_once

CHANNEL_PROPERTY = "request.channel.type"


def channel_of(issue: Any) -> str | None:
    """The channel in a `GET /issue` answer asked for the property; None without one."""
    properties = issue.get("properties") if isinstance(issue, Mapping) else None
    found = properties.get(CHANNEL_PROPERTY) if isinstance(properties, Mapping) else None
    value = found.get("value") if isinstance(found, Mapping) else found
    return value.casefold()[:64] if isinstance(value, str) and value.strip() else None


async def request_channel(client: RestClient, api: str, retry: RetryPolicy, key: str) -> str | None:
    """Where the request `key` came in (`email`, `portal`…), None for an issue without a
    request channel (read; retried)."""
    params = {"fields": "status", "properties": CHANNEL_PROPERTY}
    issue = (await send(client, "GET", f"{api}/issue/{segment(key)}", retry, params=params)).json()
    return channel_of(issue)


async def update_fields(client: RestClient, api: str, key: str, fields: Mapping[str, Any]) -> None:
    """Set the issue's fields to values as the REST API takes them (one attempt)."""
    await send_once(client, "PUT", f"{api}/issue/{segment(key)}", json={"fields": dict(fields)})

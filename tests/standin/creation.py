"""Issues created as Jira creates them, and their fields edited through REST.

`POST /_standin/create` stands for a person creating a ticket: on the portal, by e-mail or in
Jira. The issue gets its fields (a priority by name becomes Jira's priority object), a Service
Management request type field and, like a service project's request, the entity property
`request.channel.type` = `{"value": <channel>}`; then the `jira:issue_created` delivery goes
out as Jira Cloud sends it: the creator as `user`, the issue as REST v2 shows it, and a
changelog listing what was set (as in zulip's recorded `issue_created_with_custom_fields`).

`PUT /rest/api/{2,3}/issue/{key}` edits `fields` as Jira does: a field the issue does not
have cannot be set, a priority must be one the site has, and an edit that changes something
is answered 204 and sent as a `jira:issue_updated` delivery by the editing account.
"""

from __future__ import annotations

from typing import Any

from .state import Issue, JiraStandin
from .times import now

PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
REQUEST_TYPE_FIELD = "customfield_10010"  # the "Request Type" field of a Cloud site
CHANNEL_PROPERTY = "request.channel.type"
NOT_SETTABLE = "Field '{field}' cannot be set. It is not on the appropriate screen, or unknown."


def priority_json(name: str, base: str, version: str = "2") -> dict[str, Any]:
    ident = PRIORITIES[name]
    return {"self": f"{base}/rest/api/{version}/priority/{ident}",
            "iconUrl": f"{base}/images/icons/priorities/{name.lower()}.svg", "name": name, "id": ident}


def _request_type(name: str, issue_id: str, key: str, status: str, base: str) -> dict[str, Any]:
    ident = str(10 + sum(map(ord, name)) % 90)
    return {
        "_links": {"jiraRest": f"{base}/rest/api/2/issue/{issue_id}",
                   "web": f"{base}/servicedesk/customer/portal/3/{key}"},
        "requestType": {"_expands": ["field"], "id": ident, "name": name, "description": "",
                        "helpText": "", "issueTypeId": "10002", "serviceDeskId": "3",
                        "portalId": "3", "groupIds": ["5"]},
        "currentStatus": {"status": status, "statusCategory": "NEW"},
    }


def create(standin: JiraStandin, data: dict[str, Any], base: str) -> dict[str, Any]:
    """Create the issue `data` describes (key, user, fields, request_type, channel, status,
    issuetype, project) and send its delivery unless `"webhook": false`; return it."""
    user = data.get("user") or standin.account
    fields = {name: _field_in(name, value, base) for name, value in (data.get("fields") or {}).items()}
    issue = standin.add_issue({
        "key": data["key"], "status": data.get("status", "Open"),
        "issuetype": data.get("issuetype", "[System] Service request"),
        "fields": {"description": None, **fields}, "reporter": user, "statuses": data.get("statuses"),
        **({"project": data["project"]} if "project" in data else {}),
    })
    if data.get("request_type"):
        issue.fields[REQUEST_TYPE_FIELD] = _request_type(
            data["request_type"], issue.id, issue.key, issue.status, base)
    if data.get("channel"):
        issue.properties[CHANNEL_PROPERTY] = {"value": data["channel"]}
    items = [_item("summary", "summary", None, issue.fields["summary"]),
             {**_item("Status", "status", None, issue.status), "to": standin.status(issue.status)["id"]}]
    items += [_item(name, name, None, value) for name, value in fields.items() if value is not None]
    deployment = (standin.webhook or {}).get("deployment") or standin.deployment
    event = {"timestamp": int(now().timestamp() * 1000), "webhookEvent": "jira:issue_created",
             "issue_event_type_name": "issue_created", "user": standin.user_json(user, base, deployment),
             "issue": standin.issue_json(issue, base, "2"),
             "changelog": {"id": standin.next_id(), "items": items}}
    if data.get("webhook", True):
        standin.emit(event)
    return event


def _field_in(name: str, value: Any, base: str) -> Any:
    return priority_json(value, base) if name == "priority" and isinstance(value, str) else value


def _item(field: str, field_id: str, before: Any, after: Any) -> dict[str, Any]:
    """A changelog item as Jira writes one: ids in from/to, what people read in the strings."""
    def ident(value: Any) -> Any:
        return value.get("id") if isinstance(value, dict) else None

    def text(value: Any) -> Any:
        if isinstance(value, dict):
            return value.get("name") or value.get("value")
        return None if value is None else str(value)

    return {"field": field, "fieldtype": "custom" if field_id.startswith("customfield_") else "jira",
            "fieldId": field_id, "from": ident(before), "fromString": text(before),
            "to": ident(after), "toString": text(after)}


def properties_json(issue: Issue, wanted: str) -> dict[str, Any]:
    """The issue's entity properties as `GET /issue?properties=` lists them: by key."""
    keys = [k for k in wanted.split(",") if k]
    if "*all" in keys:
        return dict(issue.properties)
    return {k: issue.properties[k] for k in keys if k in issue.properties}


def edit(standin: JiraStandin, issue: Issue, body: Any, base: str) -> tuple[int, Any]:
    """`PUT /issue/{key}` with `fields`: 204, or 400 with Jira's errors by field."""
    if not isinstance(body, dict) or not isinstance(body.get("fields", {}), dict) or "update" in body:
        return 400, {"errorMessages": ["The Jira stand-in edits issues by `fields` only."], "errors": {}}
    wanted, errors = {}, {}
    for name, value in body.get("fields", {}).items():
        if name not in issue.fields:
            errors[name] = NOT_SETTABLE.format(field=name)
        elif name == "priority":
            found = _priority(value)
            if found is None:
                errors[name] = "The priority selected is invalid."
            else:
                wanted[name] = priority_json(found, base)
        else:
            wanted[name] = value
    if errors:
        return 400, {"errorMessages": [], "errors": errors}
    items = [_item(name, name, issue.fields[name], value) for name, value in wanted.items()
             if _differs(issue.fields[name], value)]
    issue.fields.update(wanted)
    if items:
        issue.fields["updated"] = standin.time(now())
        standin.changed()
        standin.emit({"timestamp": int(now().timestamp() * 1000), "webhookEvent": "jira:issue_updated",
                      "issue_event_type_name": "issue_updated",
                      "user": standin.user_json(standin.account, base,
                                                (standin.webhook or {}).get("deployment")),
                      "issue": standin.issue_json(issue, base, "2"),
                      "changelog": {"id": standin.next_id(), "items": items}})
    return 204, None


def _differs(before: Any, after: Any) -> bool:
    if isinstance(before, dict) and isinstance(after, dict) and "id" in before and "id" in after:
        return bool(before["id"] != after["id"])
    return bool(before != after)


def _priority(value: Any) -> str | None:
    """The name of the priority `{"name": …}` or `{"id": …}` names (names ignore case)."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("id"), str):
        return next((n for n, i in PRIORITIES.items() if i == value["id"]), None)
    name = value.get("name")
    return next((n for n in PRIORITIES if isinstance(name, str) and n.casefold() == name.casefold()), None)

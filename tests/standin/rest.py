"""Jira's REST operations as the stand-in answers them, refusals included.

An operation Jira has (per its OpenAPI) but the stand-in lacks answers 501, so a test notices
the gap instead of passing against an invented endpoint.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import attachments, creation, history, links, search, worklogs
from .adf import comment_problem
from .openapi import methods_of, resolve
from .state import Issue, JiraStandin

ISSUE_NOT_FOUND = ["Issue does not exist or you do not have permission to see it."]
ISSUE_EXPANDS = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
SEARCH_REMOVED = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql "
                  "API. A full migration guideline is available at "
                  "https://developer.atlassian.com/changelog/#CHANGE-2046")


def jira_error(status: int, *messages: str, **errors: str) -> tuple[int, dict[str, Any]]:
    return status, {"errorMessages": list(messages), "errors": errors}


@dataclass
class RestCall:
    version: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    base: str
    path: str = ""


def not_here(call: RestCall) -> tuple[int, Any]:
    """Jira's 404 for a resource its deployment does not have (Cloud's API is a superset)."""
    return 404, {"message": f"null for uri: {call.base}{call.path}", "status-code": 404}


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
    if "changelog" in expand:
        most = None if standin.deployment == "datacenter" else history.ISSUE_CHANGELOG_MOST
        body["changelog"] = history.expanded(standin, issue, call.base, most)
    if "properties" in call.query:
        body["properties"] = creation.properties_json(issue, call.query["properties"])
    return 200, {"expand": ISSUE_EXPANDS, **body}


def _get_changelog(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
    if standin.deployment == "datacenter":
        return not_here(call)
    issue = standin.find_issue(call.params["issueIdOrKey"])
    if issue is None:
        return jira_error(404, *ISSUE_NOT_FOUND)
    start, most = call.query.get("startAt", "0"), call.query.get("maxResults", "100")
    if not (start.isdigit() and most.isdigit()):
        return jira_error(400, "startAt and maxResults must be numbers.")
    return 200, history.page(standin, issue, call.base, int(start), int(most))


def _searched(standin: JiraStandin, call: RestCall, params: dict[str, Any]) -> tuple[int, Any]:
    if standin.deployment == "datacenter":
        return not_here(call)  # Data Center has only /search
    try:
        return 200, search.enhanced(standin, params, call.base, call.version)
    except search.Refused as exc:
        return jira_error(400, str(exc))


def _search_jql(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
    return _searched(standin, call, call.query)


def _posted(call: RestCall) -> dict[str, Any]:
    """A search's body as its query parameters: lists (fields, expand) joined by commas."""
    body = call.body if isinstance(call.body, dict) else {}
    return {k: ",".join(map(str, v)) if isinstance(v, list) else v for k, v in body.items()}


def _search_jql_posted(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
    return _searched(standin, call, _posted(call))


def _search_by_offset(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
    """Data Center's search; Cloud removed it for the enhanced search and answers 410."""
    if standin.deployment == "cloud":
        return jira_error(410, SEARCH_REMOVED)
    params = call.query if call.body is None else _posted(call)
    try:
        return 200, search.by_offset(standin, params, call.base, call.version)
    except search.Refused as exc:
        return jira_error(400, str(exc))


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
    order = call.query.get("orderBy", "created")
    if order.lstrip("+-") != "created":
        return jira_error(400, f"Invalid orderBy value: '{order}'.")
    comments = sorted(issue.comments, key=lambda c: (c["created"], int(c["id"])),
                      reverse=order.startswith("-"))
    start, most = int(call.query.get("startAt", 0)), int(call.query.get("maxResults", 5000))
    return 200, {"startAt": start, "maxResults": most, "total": len(comments),
                 "comments": comments[start:start + most]}


def _get_comment_property(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
    comment_id, key = call.params["commentId"], call.params["propertyKey"]
    properties = standin.comment_properties.get(comment_id)
    if properties is None:
        return jira_error(404, f"Can not find a comment for the id: {comment_id}.")
    if key not in properties:
        return jira_error(404, f"The property with key '{key}' does not exist.")
    return 200, {"key": key, "value": properties[key]}


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


PERMISSION_NAMES = {"BROWSE_PROJECTS": "Browse Projects", "TRANSITION_ISSUES": "Transition Issues",
                    "ADD_COMMENTS": "Add Comments", "EDIT_ISSUES": "Edit Issues"}


def _my_permissions(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
    wanted = [p for p in call.query.get("permissions", "").split(",") if p]
    if not wanted:
        return jira_error(400, "The permissions query parameter is required.")
    unknown = [p for p in wanted if p not in PERMISSION_NAMES]
    if unknown:
        return jira_error(404, f"No project permissions with key {unknown[0]} found.")
    key = call.query.get("issueKey")
    if key and standin.find_issue(key) is None:
        return jira_error(404, *ISSUE_NOT_FOUND)
    return 200, {"permissions": {
        p: {"id": str(10 + i), "key": p, "name": PERMISSION_NAMES[p], "type": "PROJECT",
            "description": "", "havePermission": p not in standin.denied_permissions}
        for i, p in enumerate(wanted)}}


@_on_issue
def _get_worklogs(standin: JiraStandin, call: RestCall, issue: Issue) -> tuple[int, Any]:
    start, most = call.query.get("startAt", "0"), call.query.get("maxResults", str(worklogs.PAGE_MOST))
    if not (start.isdigit() and most.isdigit()):  # Jira answers 404 here, as its OpenAPI says
        return jira_error(404, "startAt and maxResults must be numbers.")
    return 200, worklogs.page(standin, issue, call.base, call.version, int(start), int(most))


def _fields(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
    return 200, worklogs.fields_json(standin)


def _statuses(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
    return 200, [standin.status_json(name, call.base) for name in standin.statuses]


def _refused(exc: links.Refused) -> tuple[int, Any]:
    return jira_error(exc.status, *exc.messages, **exc.errors)


@_on_issue
def _get_remote_links(standin: JiraStandin, call: RestCall, issue: Issue) -> tuple[int, Any]:
    try:
        return 200, standin.links.remote_of(issue, call.query.get("globalId"))
    except links.Refused as exc:
        return _refused(exc)


@_on_issue
def _put_remote_link(standin: JiraStandin, call: RestCall, issue: Issue) -> tuple[int, Any]:
    """A new link answers 201; one whose globalId the issue has is updated and answers 200."""
    try:
        created, link = standin.links.put_remote(issue, call.body, call.base, call.version)
    except links.Refused as exc:
        return _refused(exc)
    return 201 if created else 200, {"id": link["id"], "self": link["self"]}


def _link_issues(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
    try:
        standin.links.link_issues(standin, call.body)
    except links.Refused as exc:
        return _refused(exc)
    return 201, None


def _get_issue_link(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
    try:
        link = standin.links.find_issue_link(call.params["linkId"])
    except links.Refused as exc:
        return _refused(exc)
    return 200, links.issue_link_json(standin, link, call.base)


def _link_types(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
    return 200, {"issueLinkTypes": [links.type_json(name, call.base) for name in links.LINK_TYPES]}


ISSUE = "/rest/api/3/issue/{issueIdOrKey}"
OPERATIONS: dict[tuple[str, str], Handler] = {
    ("GET", "/rest/api/3/myself"): _myself,
    ("GET", ISSUE): _get_issue,
    ("PUT", ISSUE): _on_issue(lambda s, call, issue: creation.edit(s, issue, call.body, call.base)),
    ("GET", ISSUE + "/transitions"): _get_transitions,
    ("POST", ISSUE + "/transitions"): _do_transition,
    ("GET", ISSUE + "/comment"): _get_comments,
    ("POST", ISSUE + "/comment"): _add_comment,
    ("GET", "/rest/api/3/user"): _get_user,
    ("GET", "/rest/api/3/comment/{commentId}/properties/{propertyKey}"): _get_comment_property,
    ("GET", "/rest/api/3/mypermissions"): _my_permissions,
    ("GET", "/rest/api/3/status"): _statuses,
    ("GET", ISSUE + "/changelog"): _get_changelog,
    ("GET", ISSUE + "/worklog"): _get_worklogs,
    ("GET", "/rest/api/3/field"): _fields,
    ("GET", "/rest/api/3/search/jql"): _search_jql,
    ("POST", "/rest/api/3/search/jql"): _search_jql_posted,
    ("GET", "/rest/api/3/search"): _search_by_offset,
    ("GET", ISSUE + "/remotelink"): _get_remote_links,
    ("POST", ISSUE + "/remotelink"): _put_remote_link,
    ("POST", "/rest/api/3/issueLink"): _link_issues,
    ("GET", "/rest/api/3/issueLink/{linkId}"): _get_issue_link,
    ("GET", "/rest/api/3/issueLinkType"): _link_types,
    ("POST", "/rest/api/3/search"): _search_by_offset,
    ("DELETE", "/rest/api/3/attachment/{id}"): attachments.delete,
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
        allowed = methods_of(path)
        if allowed:
            return 405, None, {"Allow": ", ".join(allowed)}
        return 404, {"message": f"null for uri: {base}{path}", "status-code": 404}, {}
    version, template, params = found
    handler = OPERATIONS.get((method, template))
    if handler is None:
        message = (f"The Jira stand-in does not implement {method} {template} "
                   "(it exists in Jira's OpenAPI).")
        return (*jira_error(501, message), {})
    if body is NOT_JSON:
        return (*jira_error(400, "Unexpected character in the request body: it is not JSON."), {})
    result = handler(standin, RestCall(version, params, query, body, base, path))
    if fault and fault.late_ms:  # done; the answer comes after the client gave up
        await asyncio.sleep(fault.late_ms / 1000)
    return (*result, {})

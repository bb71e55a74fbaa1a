"""Azure DevOps' work item REST operations as the stand-in answers them, refusals included.

Served: `GET …/_apis/wit/workitems/{id}`, the batch `GET …/_apis/wit/workitems?ids=…`, and
`PATCH …/_apis/wit/workitems/{id}` with a JSON Patch document, under the organisation (or
Server collection) with or without the project. Refused as the service refuses them: a call
without the token (401), an api-version that is missing or not 7.x, a PATCH whose body is not
`application/json-patch+json` (400 VssRequestContentTypeNotSupportedException: the service
maps that refusal to 400, not 415), a work item that does not exist (404 TF401232), fields
and `$expand` together. Error bodies have the service's shape (`$id`, `message`, `typeName`,
`typeKey`, `errorCode`, `eventId`); where the service's exact wording is not known, the
message says it is the stand-in's.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

from tests.standin.faults import take_fault

from .state import DevOpsStandin, WorkItem

PATH = re.compile(r"/(?P<prefix>.+?)/_apis/wit/workitems(?:/(?P<id>[^/]+))?/?", re.IGNORECASE)
VERSION = re.compile(r"(?P<major>\d+)\.(?P<minor>\d+)(?P<preview>-preview(?:\.\d+)?)?")
LATEST = "7.2"
MOST_IDS = 200
EXPANDS = {"none", "relations", "fields", "links", "all"}
KNOWN_FIELDS = frozenset({
    "System.Id", "System.Rev", "System.AreaPath", "System.TeamProject", "System.IterationPath",
    "System.WorkItemType", "System.State", "System.Reason", "System.CreatedDate",
    "System.ChangedDate", "System.CreatedBy", "System.ChangedBy", "System.AssignedTo",
    "System.Title", "System.Description", "System.Tags", "System.BoardColumn",
    "Microsoft.VSTS.Common.Priority", "Microsoft.VSTS.Scheduling.Effort",
    "Microsoft.VSTS.Common.ClosedDate", "Microsoft.VSTS.Common.ResolvedDate",
})
READ_ONLY_FIELDS = frozenset({"System.Id", "System.Rev", "System.CreatedDate", "System.ChangedDate",
                              "System.TeamProject", "System.WorkItemType"})
LINK_NAMES = {"Hyperlink": "Hyperlink", "ArtifactLink": "Artifact Link", "AttachedFile": "Attached File"}
JSON_PATCH = "application/json-patch+json"
WEBAPI = "Microsoft.VisualStudio.Services.WebApi"
WIT = "Microsoft.TeamFoundation.WorkItemTracking.Server"
TYPE_NAMES = {
    "WorkItemUnauthorizedAccessException": WIT,
    "ConflictingParametersException": WIT,
    "WorkItemTrackingFieldDefinitionNotFoundException": WIT,
    "ProjectDoesNotExistWithNameException": "Microsoft.TeamFoundation.Core.WebApi",
    "VssPropertyValidationException": "Microsoft.VisualStudio.Services.Common",
}

Answer = tuple[int, Any, dict[str, str]]


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    content_type: str | None
    accept: str | None
    authorization: str | None
    base: str


class Refused(Exception):
    """The service refuses the call: `status` and its error body."""

    def __init__(self, status: int, message: str, type_key: str = "ArgumentException",
                 event_id: int = 3000) -> None:
        super().__init__(message)
        self.status, self.body = vss_error(status, message, type_key, event_id)


def vss_error(status: int, message: str, type_key: str = "ArgumentException",
              event_id: int = 3000) -> tuple[int, dict[str, Any]]:
    """An error as the service writes it."""
    if type_key in TYPE_NAMES:
        type_name = f"{TYPE_NAMES[type_key]}.{type_key}, {TYPE_NAMES[type_key]}"
    elif type_key.startswith("Argument"):
        type_name = f"System.{type_key}, mscorlib"
    else:
        type_name = f"{WEBAPI}.{type_key}, {WEBAPI}"
    return status, {"$id": "1", "innerException": None, "message": message, "typeName": type_name,
                    "typeKey": type_key, "errorCode": 0, "eventId": event_id}


def no_such_item(item_id: object) -> Refused:
    return Refused(404, f"TF401232: Work item {item_id} does not exist, or you do not have "
                        "permissions to read it.", "WorkItemUnauthorizedAccessException", 3200)


async def answer(standin: DevOpsStandin, call: Call) -> Answer:
    """Answer one REST call as Azure DevOps would: (status, body, headers); the body is
    JSON, text (a 401) or None."""
    fault = take_fault(standin.faults, call.method, call.path)
    if fault and fault.delay_ms:
        await asyncio.sleep(fault.delay_ms / 1000)
    if fault and fault.status:
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        return (*vss_error(fault.status, f"Fault injected by the Azure DevOps stand-in ({fault.status})"),
                headers)
    if not standin.authorized(call.authorization):
        return 401, "Access Denied: the personal access token is missing or not valid.", {
            "WWW-Authenticate": 'Basic realm="https://dev.azure.com/"'}
    try:
        result = _route(standin, call)
    except Refused as exc:
        result = exc.status, exc.body, {}
    if fault and fault.late_ms:  # done; the answer comes after the client gave up
        await asyncio.sleep(fault.late_ms / 1000)
    return result


def _route(standin: DevOpsStandin, call: Call) -> Answer:
    found = PATH.fullmatch(call.path)
    if found is None:
        raise Refused(404, f"The Azure DevOps stand-in serves only work items, not {call.path}.",
                      "VssResourceNotFoundException")
    _check_project(standin, found["prefix"])
    _check_version(call)
    item_id = found["id"]
    if item_id is None:
        if call.method != "GET":
            return 405, None, {"Allow": "GET"}
        return (*_batch(standin, call), {})
    if call.method not in ("GET", "PATCH"):
        return 405, None, {"Allow": "GET, PATCH"}
    if not item_id.isdigit():
        raise Refused(400, f"The work item id '{item_id}' is not a number (stand-in wording).")
    item = standin.items.get(int(item_id))
    if item is None:
        raise no_such_item(item_id)
    handler = _get if call.method == "GET" else _patch
    return (*handler(standin, call, item), {})


def _check_project(standin: DevOpsStandin, prefix: str) -> None:
    organization = standin.organization.lower()
    given = prefix.strip("/")
    if given.lower() == organization:
        return
    if given.lower().startswith(organization + "/"):
        project = given[len(organization) + 1:]
        if project.lower() == standin.project.lower():
            return
        raise Refused(404, f"TF200016: The following project does not exist: {project}. Verify "
                              "that the name of the project is correct and that the project exists "
                              "on the specified Azure DevOps Server.",
                         "ProjectDoesNotExistWithNameException")
    raise Refused(404, f"The organization or collection '{given}' does not exist "
                       "(stand-in wording).", "VssResourceNotFoundException")


def _check_version(call: Call) -> None:
    version = call.query.get("api-version")
    if version is None and call.accept:
        given = re.search(r"api-version=([^;,\s]+)", call.accept)
        version = given[1] if given else None
    if not version:
        raise Refused(400, f'No api-version was supplied for the "{call.method}" request. The '
                              "version must be supplied either as part of the Accept header (e.g. "
                              '"application/json; api-version=1.0") or as a query parameter (e.g. '
                              "'?api-version=1.0').", "VssVersionNotSpecifiedException")
    parsed = VERSION.fullmatch(version)
    if parsed is None:
        raise Refused(400, f"The api-version '{version}' is not valid (stand-in wording).",
                         "VssInvalidApiResourceVersionException")
    major, minor = int(parsed["major"]), int(parsed["minor"])
    if (major, minor) > (7, 2):
        raise Refused(400, f"The requested REST API version of {version} is out of range for "
                              f"this server. The latest REST API version this server supports is "
                              f"{LATEST}.", "VssVersionOutOfRangeException")
    if major != 7:
        raise Refused(400, f"The Azure DevOps stand-in serves api-version 7.x only, not {version}.",
                         "VssVersionOutOfRangeException")
    if minor == 2 and not parsed["preview"]:
        raise Refused(400, f'The requested version "{version}" of the resource is under preview. '
                              "The -preview flag must be supplied in the api-version for such "
                              f'requests. For example: "{version}-preview"',
                         "VssInvalidPreviewVersionException")


def _shape(call: Call) -> tuple[list[str] | None, bool]:
    """The fields asked for (None: all) and whether relations are expanded."""
    fields = [f for f in call.query.get("fields", "").split(",") if f.strip()] or None
    expand = call.query.get("$expand", "none").lower()
    if expand not in EXPANDS:
        raise Refused(400, f"The value '{call.query['$expand']}' is not valid for $expand "
                              "(stand-in wording).")
    if fields and expand != "none":
        raise Refused(400, "The expand parameter can not be used with the fields parameter.",
                         "ConflictingParametersException")
    for name in fields or ():
        if name.strip() not in KNOWN_FIELDS:
            raise Refused(400, f"TF51535: Cannot find field {name.strip()}.",
                             "WorkItemTrackingFieldDefinitionNotFoundException")
    return ([f.strip() for f in fields] if fields else None), expand in ("relations", "all")


def _get(standin: DevOpsStandin, call: Call, item: WorkItem) -> tuple[int, Any]:
    fields, relations = _shape(call)
    return 200, standin.item_json(item, call.base, fields, relations, links=fields is None)


def _batch(standin: DevOpsStandin, call: Call) -> tuple[int, Any]:
    """Up to 200 work items in the order asked; with `errorPolicy=omit` a missing one is
    null in its place, otherwise it fails the whole call (404)."""
    given = [i.strip() for i in call.query.get("ids", "").split(",") if i.strip()]
    if not given:
        raise Refused(400, "The ids parameter is required (stand-in wording).", "ArgumentNullException")
    if len(given) > MOST_IDS:
        raise Refused(400, f"At most {MOST_IDS} work items can be read at once; {len(given)} "
                              "were asked for (stand-in wording).")
    if not all(i.isdigit() for i in given):
        raise Refused(400, f"The ids must be numbers: {','.join(given)} (stand-in wording).")
    policy = call.query.get("errorPolicy", "fail").lower()
    if policy not in ("fail", "omit"):
        raise Refused(400, f"The errorPolicy '{call.query['errorPolicy']}' is not Fail or Omit "
                              "(stand-in wording).")
    fields, relations = _shape(call)
    found = [standin.items.get(int(i)) for i in given]
    if policy == "fail" and None in found:
        raise no_such_item(given[found.index(None)])
    value = [None if item is None else standin.item_json(item, call.base, fields, relations, links=False)
             for item in found]
    return 200, {"count": len(value), "value": value}


def _patch(standin: DevOpsStandin, call: Call, item: WorkItem) -> tuple[int, Any]:
    media = (call.content_type or "").split(";")[0].strip().lower()
    if media != JSON_PATCH:
        raise Refused(400, f'The request indicated a Content-Type of "{media}" for method type '
                              f'"PATCH" which is not supported. Valid content types for this method '
                              f"are: {JSON_PATCH}.", "VssRequestContentTypeNotSupportedException")
    try:
        ops = json.loads(call.body) if call.body else None
    except ValueError:
        ops = None
    if not isinstance(ops, list) or not ops or not all(isinstance(op, dict) for op in ops):
        raise Refused(400, "You must pass a valid patch document in the body of the request.",
                         "VssPropertyValidationException")
    fields: dict[str, Any] = {}
    added: list[dict[str, Any]] = []
    for op in ops:
        kind, path = str(op.get("op", "")).lower(), op.get("path")
        if kind == "add" and path == "/relations/-":
            added.append(_relation(item, op.get("value"), added))
        elif kind in ("add", "replace") and isinstance(path, str) and path.startswith("/fields/"):
            name = path[len("/fields/"):]
            if name in READ_ONLY_FIELDS:
                raise Refused(400, f"The field {name} is read only (stand-in wording).")
            fields[name] = op.get("value")
        else:
            raise Refused(400, f"The stand-in applies 'add' to /relations/- and 'add' or "
                                  f"'replace' to /fields/…, not {kind!r} to {path!r}.")
    standin.emit(standin.update(item, fields, added, standin.account, call.base))
    return 200, standin.item_json(item, call.base, relations=True)


def _relation(item: WorkItem, value: Any, adding: list[dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("rel"), str) or not isinstance(value.get("url"), str):
        raise Refused(400, f"Value {json.dumps(value)} does not match the expected type "
                              "Microsoft.TeamFoundation.WorkItemTracking.WebApi.Models.WorkItemRelation.",
                         "VssPropertyValidationException")
    rel, url = value["rel"], value["url"]
    if rel not in LINK_NAMES and not rel.startswith("System.LinkTypes."):
        raise Refused(400, f"The link type {rel} is not known (stand-in wording).")
    if rel == "Hyperlink" and not re.match(r"https?://", url):
        raise Refused(400, f"The hyperlink {url} is not an absolute http(s) URL (stand-in wording).")
    if any(r["rel"] == rel and r["url"].lower() == url.lower() for r in [*item.relations, *adding]):
        raise Refused(400, f"Work item {item.id} has a {rel} link to {url} already; the service "
                              "refuses a second one (stand-in wording).")
    attributes = {"isLocked": False, "name": LINK_NAMES.get(rel, rel), **(value.get("attributes") or {})}
    return {"rel": rel, "url": url, "attributes": attributes}

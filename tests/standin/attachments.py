"""Attachments on the stand-in's tickets, as Jira shows them and reports them changed.

An issue lists its attachments in `fields.attachment` (`id`, `filename`, `size`, `mimeType`,
`author`, `created`, `content`, and `thumbnail` for images). Someone who attaches a file
makes Jira Cloud send `jira:issue_updated` with a changelog item `Attachment` holding the
new attachment's id in `to` and its name in `toString`; deleting one
(`DELETE /attachment/{id}`, 204, or 404 when there is none) sends the same item with the id
in `from`. Either updates the ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .times import now

if TYPE_CHECKING:
    from .rest import RestCall
    from .state import Issue, JiraStandin

IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif"}
OTHER_TYPES = {"pdf": "application/pdf", "zip": "application/zip", "exe": "application/x-msdownload",
               "txt": "text/plain"}  # fmt: skip


@dataclass
class Attachment:
    id: str
    filename: str
    size: int
    mime_type: str
    by: dict[str, Any]  # the user who attached it
    created: datetime


def seeded(standin: JiraStandin, entries: Any) -> list[Attachment]:
    """A seed's attachments (`[{"filename", "size", "mimeType", "by", "id"}, …]`); ValueError
    for one Jira could not hold, which the control answers with a 400."""
    if not isinstance(entries, list):
        raise ValueError("attachments must be a list of {filename, size, by}")
    made = []
    for entry in entries:
        name, size = entry["filename"], entry["size"]
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"an attachment needs a file name: {name!r}")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"an attachment's size is a whole number of bytes: {size!r}")
        kind = name.rpartition(".")[2].casefold()
        mime = entry.get("mimeType") or IMAGE_TYPES.get(kind) or OTHER_TYPES.get(kind, "application/octet-stream")
        made.append(Attachment(str(entry.get("id") or standin.next_id()), name, size, mime,
                               entry.get("by") or standin.account, now()))
    return made


def field_json(standin: JiraStandin, issue: Issue, base: str, version: str) -> list[dict[str, Any]]:
    """The issue's `fields.attachment`."""
    shown = []
    for a in issue.attachments:
        entry = {"self": f"{base}/rest/api/{version}/attachment/{a.id}", "id": a.id, "filename": a.filename,
                 "author": standin.user_json(a.by, base), "created": standin.time(a.created), "size": a.size,
                 "mimeType": a.mime_type, "content": f"{base}/rest/api/{version}/attachment/content/{a.id}"}
        if a.mime_type.startswith("image/"):
            entry["thumbnail"] = f"{base}/rest/api/{version}/attachment/thumbnail/{a.id}"
        shown.append(entry)
    return shown


def state_json(standin: JiraStandin, issue: Issue) -> dict[str, Any]:
    """The issue's attachments as `GET /_standin/issues/{key}` shows them."""
    return {"attachments": [{"id": a.id, "filename": a.filename, "size": a.size, "mimeType": a.mime_type,
                             "by": a.by.get("accountId") or a.by.get("name")} for a in issue.attachments]}


def attach(standin: JiraStandin, issue: Issue, data: dict[str, Any], base: str) -> dict[str, Any]:
    """Someone (`by`, default the bridge's account) attaches a file, as in Jira's UI or the
    portal; the `jira:issue_updated` delivery Jira sends for it."""
    (made,) = seeded(standin, [{**data, "by": data.get("by") or data.get("user")}])
    issue.attachments.append(made)
    return _changed(standin, issue, made, base, added=True)


def attach_control(standin: JiraStandin, data: Any, request: Request) -> Any:
    """`POST /_standin/issues/{key}/attachments`: `attach`, and Jira's webhook about it sent
    unless `"webhook": false`."""
    issue = standin.find_issue(request.path_params["key"])
    if issue is None:
        return JSONResponse({"error": "no such issue"}, 404)
    event = attach(standin, issue, data, str(request.base_url).rstrip("/"))
    if data.get("webhook", True):
        standin.emit(event)
    return event


def _changed(standin: JiraStandin, issue: Issue, attachment: Attachment, base: str, *, added: bool) -> dict[str, Any]:
    at = now()
    issue.fields["updated"] = standin.time(at)
    standin.changed()
    ident, name = (attachment.id, attachment.filename)
    item = {"field": "Attachment", "fieldtype": "jira", "fieldId": "attachment",
            "from": None if added else ident, "fromString": None if added else name,
            "to": ident if added else None, "toString": name if added else None}
    deployment = (standin.webhook or {}).get("deployment") or standin.deployment
    by = attachment.by if added else standin.account
    return {"timestamp": int(at.timestamp() * 1000), "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_updated", "user": standin.user_json(by, base, deployment),
            "issue": standin.issue_json(issue, base, "2"), "changelog": {"id": standin.next_id(), "items": [item]}}


def delete(standin: JiraStandin, call: RestCall) -> tuple[int, Any]:
    """`DELETE /attachment/{id}` by the bridge's account: 204, or 404 when there is none."""
    ident = call.params["id"]
    for issue in standin.issues.values():
        found = next((a for a in issue.attachments if a.id == ident), None)
        if found is not None:
            issue.attachments.remove(found)
            standin.emit(_changed(standin, issue, found, call.base, added=False))
            return 204, None
    return 404, {"errorMessages": [f"The attachment with id '{ident}' does not exist"], "errors": {}}

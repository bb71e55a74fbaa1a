"""A person comments on a ticket (in Jira, in the portal, or by replying to its e-mail): the
comment is kept and the `comment_created` delivery Jira sends for it goes out."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from .state import INTERNAL_COMMENT_PROPERTY, Issue, JiraStandin
from .times import now

# What Cloud's comment deliveries show of the issue: a few fields, never the request type.
TRIMMED_FIELDS = "summary,issuetype,project,assignee,priority,status"


def delivery(standin: JiraStandin, issue: Issue, comment: dict[str, Any], base: str) -> dict[str, Any]:
    """The delivery Jira sends for a new comment: Cloud's with the trimmed issue, Data
    Center's with none (the issue is named by id in the comment's address only)."""
    event: dict[str, Any] = {"timestamp": int(now().timestamp() * 1000), "webhookEvent": "comment_created",
                             "comment": comment}
    if ((standin.webhook or {}).get("deployment") or standin.deployment) == "cloud":
        event["issue"] = standin.issue_json(issue, base, "2", fields=TRIMMED_FIELDS)
    return event


def person_comments(standin: JiraStandin, data: Any, request: Request) -> Any:
    """`{"body", "user", "internal", "webhook"}`: `user` (default the bridge's account) comments;
    `internal` makes it a Service Management internal note; `"webhook": false` sends nothing."""
    issue = standin.find_issue(request.path_params["key"])
    if issue is None:
        return JSONResponse({"error": "no such issue"}, 404)
    base = str(request.base_url).rstrip("/")
    internal = [{"key": INTERNAL_COMMENT_PROPERTY, "value": {"internal": True}}] if data.get("internal") else []
    comment = standin.add_comment(issue, {"body": data["body"], "properties": internal}, base, "2",
                                  author=data.get("user") or standin.account)
    event = delivery(standin, issue, comment, base)
    if data.get("webhook", True):
        standin.emit(event)
    return event

"""The stand-in as an ASGI app: Jira's REST API under /rest/, controls under /_standin/."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import comments, creation, worklogs
from .attachments import attach_control
from .controls import control
from .rest import NOT_JSON, answer
from .state import JiraStandin
from .times import parse_time


async def _rest(request: Request) -> Response:
    standin: JiraStandin = request.app.state.standin
    arrived, raw = time.monotonic(), await request.body()
    try:
        sent = json.loads(raw) if raw else None
    except ValueError:
        sent = NOT_JSON
    query = {k: ",".join(request.query_params.getlist(k)) for k in request.query_params}
    call = {"method": request.method, "path": request.url.path, "query": query,
            "body": None if sent is NOT_JSON else sent, "status": None, "at": arrived}
    standin.calls.append(call)
    status, body, headers = await answer(standin, request.method, request.url.path, query, sent,
                                         request.headers.get("authorization"),
                                         str(request.base_url).rstrip("/"))
    call["status"] = status
    if body is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(body, status, headers=headers)


def _seed_issues(standin: JiraStandin, data: Any, request: Request) -> Any:
    issues = [standin.add_issue(item) for item in (data if isinstance(data, list) else [data])]
    return [standin.issue_state(issue) for issue in issues]


def _issue(standin: JiraStandin, data: Any, request: Request) -> Any:
    issue = standin.find_issue(request.path_params["key"])
    return standin.issue_state(issue) if issue else JSONResponse({"error": "no such issue"}, 404)


def _person_moves(standin: JiraStandin, data: Any, request: Request) -> Any:
    """A person (default: the bridge's account) sets the status, as if in Jira's UI or portal,
    at `at` (default now). With `"webhook": false` the change is kept but no webhook goes out,
    as when Jira gave up delivering it."""
    issue = standin.find_issue(request.path_params["key"])
    if issue is None:
        return JSONResponse({"error": "no such issue"}, 404)
    base, user = str(request.base_url).rstrip("/"), data.get("user") or standin.account
    comment = None
    if data.get("comment") is not None:
        comment = standin.add_comment(issue, {"body": data["comment"]}, base, "2", author=user)
    at = parse_time(data["at"]) if data.get("at") else None
    event = standin.move(issue, data["to"], by=user, base=base, comment=comment, at=at)
    if data.get("webhook", True):
        standin.emit(event)
    return event


def _log_work(standin: JiraStandin, data: Any, request: Request) -> Any:
    """Someone logs time on a ticket (one worklog or a list), edits a worklog's seconds
    (`{"seconds", "comment", "at"}`) or deletes one; each updates the ticket, as in Jira."""
    issue = standin.find_issue(request.path_params["key"])
    if issue is None:
        return JSONResponse({"error": "no such issue"}, 404)
    if request.method == "POST":
        made = worklogs.add(standin, issue, data)
        return [entry for entry in worklogs.state_json(standin, issue) if entry["id"] in {w.id for w in made}]
    ident = request.path_params["id"]
    if request.method == "PUT":
        done = worklogs.edit(standin, issue, ident, data) is not None
    else:
        done = worklogs.delete(standin, issue, ident, parse_time(data["at"]) if data.get("at") else None)
    return None if done else JSONResponse({"error": "no such worklog"}, 404)


def _faults(standin: JiraStandin, data: Any, request: Request) -> Any:
    if request.method == "DELETE":
        return standin.faults.clear()
    if request.method == "GET":
        return [vars(fault) for fault in standin.faults]
    return [vars(standin.add_fault(item)) for item in (data if isinstance(data, list) else [data])]


def _seed_users(standin: JiraStandin, data: Any, request: Request) -> Any:
    return [standin.add_user(item) for item in (data if isinstance(data, list) else [data])]


def _set_workflow(standin: JiraStandin, data: Any, request: Request) -> Any:
    standin.set_workflow(data.get("transitions", {}), data.get("statuses"))


def _calls(standin: JiraStandin, data: Any, request: Request) -> Any:
    return standin.calls.clear() if request.method == "DELETE" else standin.calls


def create_app(standin: JiraStandin | None = None) -> Starlette:
    """The stand-in as an ASGI app: Jira under /rest/, controls under /_standin/."""
    routes = [
        Route("/rest/{path:path}", _rest, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        Route("/_standin/reset", control(lambda s, d, r: s.load(d)), methods=["POST"]),
        Route("/_standin/issues", control(_seed_issues), methods=["POST"]),
        Route("/_standin/issues/{key}", control(_issue), methods=["GET"]),
        Route("/_standin/create", control(lambda s, d, r: creation.create(s, d, str(r.base_url).rstrip("/"))),
              methods=["POST"]),
        Route("/_standin/issues/{key}/transition", control(_person_moves), methods=["POST"]),
        Route("/_standin/issues/{key}/comment", control(comments.person_comments), methods=["POST"]),
        Route("/_standin/issues/{key}/worklogs", control(_log_work), methods=["POST"]),
        Route("/_standin/issues/{key}/worklogs/{id}", control(_log_work), methods=["PUT", "DELETE"]),
        Route("/_standin/issues/{key}/attachments", control(attach_control), methods=["POST"]),
        Route("/_standin/workflow", control(_set_workflow), methods=["POST"]),
        Route("/_standin/users", control(_seed_users), methods=["POST"]),
        Route("/_standin/faults", control(_faults), methods=["GET", "POST", "DELETE"]),
        Route("/_standin/calls", control(_calls), methods=["GET", "DELETE"]),
        Route("/_standin/webhook", control(lambda s, d, r: s.set_webhook(**d)), methods=["POST"]),
        Route("/_standin/webhook/deliveries", control(lambda s, d, r: s.deliveries),
              methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.standin = standin or JiraStandin()
    return app

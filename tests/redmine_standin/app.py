"""The stand-in as an ASGI app: Redmine's REST API at its own paths, controls under /_standin/."""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from tests.standin.controls import control

from . import changes, controls, faults, webhooks
from .rest import Call, answer
from .state import RedmineStandin


async def _rest(request: Request) -> Response:
    standin: RedmineStandin = request.app.state.standin
    arrived, raw = time.monotonic(), await request.body()
    query = {k: ",".join(request.query_params.getlist(k)) for k in request.query_params}
    headers = {k.lower(): v for k, v in request.headers.items()}
    call = Call(request.method, request.url.path, query, raw, request.headers.get("content-type"), headers,
                str(request.base_url).rstrip("/"))
    entry: dict[str, Any] = {"method": request.method, "path": request.url.path,
                             "query": {k: v for k, v in query.items() if k != "key"},
                             "user": None, "status": None, "skip_webhooks": call.skip_webhooks, "at": arrived}
    standin.calls.append(entry)
    status, body, sent_headers = await answer(standin, call)
    entry["status"], entry["user"] = status, call.user.login if call.user else None
    if body is None:
        return Response(status_code=status, headers=sent_headers)
    if isinstance(body, str):
        return HTMLResponse(body, status, headers=sent_headers)
    return JSONResponse(body, status, headers=sent_headers, media_type="application/json; charset=utf-8")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _issue(standin: RedmineStandin, request: Request) -> Any:
    return standin.issues.get(int(request.path_params["id"]))


def _missing(what: str = "issue") -> JSONResponse:
    return JSONResponse({"error": f"no such {what}"}, 404)


def _seed_issues(standin: RedmineStandin, data: Any, request: Request) -> Any:
    made = [changes.seed_issue(standin, d) for d in (data if isinstance(data, list) else [data])]
    return [controls.issue_state(standin, issue) for issue in made]


def _read_issue(standin: RedmineStandin, data: Any, request: Request) -> Any:
    issue = _issue(standin, request)
    return controls.issue_state(standin, issue) if issue else _missing()


def _on_issue(action: Any) -> Any:
    """A control on one issue, refusing as Redmine would (403, 422) with the reason."""

    def handler(standin: RedmineStandin, data: Any, request: Request) -> Any:
        issue = _issue(standin, request)
        if issue is None:
            return _missing()
        try:
            return action(standin, issue, data, request)
        except changes.Invalid as exc:
            return JSONResponse({"errors": exc.messages}, 422)
        except changes.Forbidden:
            return JSONResponse({"error": "the user's roles do not allow it"}, 403)

    return handler


def _attach(standin: RedmineStandin, issue: Any, data: Any, request: Request) -> Any:
    upload = {k: data[k] for k in ("filename", "filesize", "content_type", "description") if k in data}
    rest = {k: v for k, v in data.items() if k not in upload}
    return controls.act(standin, issue, rest, _base(request), uploads=[upload])


def _relate(standin: RedmineStandin, issue: Any, data: Any, request: Request) -> Any:
    relation = changes.relate(standin, issue, controls.actor(standin, data), data, data.get("at"))
    return {"id": relation.id, "issue_id": relation.issue_from_id, "issue_to_id": relation.issue_to_id,
            "relation_type": relation.relation_type}


def _delete_attachment(standin: RedmineStandin, data: Any, request: Request) -> Any:
    attachment = standin.attachments.get(int(request.path_params["id"]))
    if attachment is None:
        return _missing("attachment")
    journal = changes.delete_attachment(standin, attachment, controls.actor(standin, data), data.get("at"))
    return controls.journal_state(standin, journal)


def _workflows(standin: RedmineStandin, data: Any, request: Request) -> Any:
    standin.add({"workflows": data if isinstance(data, list) else [data]})
    return controls.state(standin)["workflows"]


def _faults(standin: RedmineStandin, data: Any, request: Request) -> Any:
    if request.method == "DELETE":
        return standin.faults.clear()
    if request.method == "GET":
        return [vars(fault) for fault in standin.faults]
    made = [faults.new_fault(item) for item in (data if isinstance(data, list) else [data])]
    standin.faults.extend(made)
    return [vars(fault) for fault in made]


def _calls(standin: RedmineStandin, data: Any, request: Request) -> Any:
    return standin.calls.clear() if request.method == "DELETE" else standin.calls


def _deliveries(standin: RedmineStandin, data: Any, request: Request) -> Any:
    return standin.deliveries.clear() if request.method == "DELETE" else standin.deliveries


def _webhook(standin: RedmineStandin, data: Any, request: Request) -> Any:
    webhooks.configure(standin, **data)
    return controls.state(standin)["webhook"]


def create_app(standin: RedmineStandin | None = None) -> Starlette:
    """The stand-in as an ASGI app."""
    issue = "/_standin/issues/{id:int}"
    routes = [
        Route("/_standin/reset", control(lambda s, d, r: s.load(d)), methods=["POST"]),
        Route("/_standin/seed", control(lambda s, d, r: s.add(d)), methods=["POST"]),
        Route("/_standin/state", control(lambda s, d, r: controls.state(s)), methods=["GET"]),
        Route("/_standin/workflows", control(_workflows), methods=["POST"]),
        Route("/_standin/issues", control(_seed_issues), methods=["POST"]),
        Route("/_standin/bulk", control(lambda s, d, r: controls.bulk(s, d)), methods=["POST"]),
        Route("/_standin/create", control(lambda s, d, r: controls.create(s, d, _base(r))), methods=["POST"]),
        Route(issue, control(_read_issue), methods=["GET"]),
        Route(issue + "/act", control(_on_issue(lambda s, i, d, r: controls.act(s, i, d, _base(r)))), methods=["POST"]),
        Route(issue + "/attachments", control(_on_issue(_attach)), methods=["POST"]),
        Route(issue + "/time_entries", control(_on_issue(lambda s, i, d, r: controls.log_time(s, i, d))),
              methods=["POST"]),
        Route(issue + "/relations", control(_on_issue(_relate)), methods=["POST"]),
        Route("/_standin/attachments/{id:int}", control(_delete_attachment), methods=["DELETE"]),
        Route("/_standin/faults", control(_faults), methods=["GET", "POST", "DELETE"]),
        Route("/_standin/calls", control(_calls), methods=["GET", "DELETE"]),
        Route("/_standin/webhook", control(_webhook), methods=["POST"]),
        Route("/_standin/webhook/deliveries", control(_deliveries), methods=["GET", "DELETE"]),
        Route("/_standin/webhook/deliveries/{index:int}/resend",
              control(lambda s, d, r: webhooks.resend(s, r.path_params["index"])), methods=["POST"]),
        Route("/{path:path}", _rest, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
    app = Starlette(routes=routes)
    app.state.standin = standin or RedmineStandin()
    return app

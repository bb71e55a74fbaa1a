"""The stand-in as an ASGI app: Azure DevOps' work item REST API under the organisation's
path, controls under /_standin/."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.standin.controls import control

from .rest import Call, answer
from .state import DEVELOPER, DevOpsStandin


async def _rest(request: Request) -> Response:
    standin: DevOpsStandin = request.app.state.standin
    arrived, raw = time.monotonic(), await request.body()
    try:
        sent = json.loads(raw) if raw else None
    except ValueError:
        sent = None
    query = {k: ",".join(request.query_params.getlist(k)) for k in request.query_params}
    content_type = request.headers.get("content-type")
    entry = {"method": request.method, "path": request.url.path, "query": query,
             "content_type": content_type, "body": sent, "status": None, "at": arrived}
    standin.calls.append(entry)
    call = Call(request.method, request.url.path, query, raw, content_type,
                request.headers.get("accept"), request.headers.get("authorization"),
                str(request.base_url).rstrip("/"))
    status, body, headers = await answer(standin, call)
    entry["status"] = status
    if body is None:
        return Response(status_code=status, headers=headers)
    if isinstance(body, str):
        return PlainTextResponse(body, status, headers=headers)
    return JSONResponse(body, status, headers=headers, media_type="application/json; charset=utf-8")


def _add_items(standin: DevOpsStandin, data: Any, request: Request) -> Any:
    items = [standin.add_item(item) for item in (data if isinstance(data, list) else [data])]
    return [standin.state_json(item) for item in items]


def _item(standin: DevOpsStandin, data: Any, request: Request) -> Any:
    item = standin.items.get(int(request.path_params["id"]))
    return standin.state_json(item) if item else JSONResponse({"error": "no such work item"}, 404)


def _set_state(standin: DevOpsStandin, data: Any, request: Request) -> Any:
    """Someone (default: a developer) moves the item to `state`, as on the board; the
    service hook goes out unless `"hook": false` (as when the service gave up sending it).
    Answers the hook's body, sent or not."""
    item = standin.items.get(int(request.path_params["id"]))
    if item is None:
        return JSONResponse({"error": "no such work item"}, 404)
    fields = {"System.State": data["state"], **({"System.Reason": data["reason"]} if data.get("reason") else {})}
    body = standin.update(item, fields, [], {**DEVELOPER, **data.get("by", {})}, str(request.base_url).rstrip("/"))
    if data.get("hook", True):
        standin.emit(body)
    return body


def _faults(standin: DevOpsStandin, data: Any, request: Request) -> Any:
    if request.method == "DELETE":
        return standin.faults.clear()
    if request.method == "GET":
        return [vars(fault) for fault in standin.faults]
    return [vars(standin.add_fault(item)) for item in (data if isinstance(data, list) else [data])]


def _calls(standin: DevOpsStandin, data: Any, request: Request) -> Any:
    return standin.calls.clear() if request.method == "DELETE" else standin.calls


def _deliveries(standin: DevOpsStandin, data: Any, request: Request) -> Any:
    return standin.deliveries.clear() if request.method == "DELETE" else standin.deliveries


def _resend(standin: DevOpsStandin, data: Any, request: Request) -> Any:
    return standin.resend(int(request.path_params["index"]))


def create_app(standin: DevOpsStandin | None = None) -> Starlette:
    """The stand-in as an ASGI app."""
    routes = [
        Route("/_standin/reset", control(lambda s, d, r: s.load(d)), methods=["POST"]),
        Route("/_standin/workitems", control(_add_items), methods=["POST"]),
        Route("/_standin/workitems/{id:int}", control(_item), methods=["GET"]),
        Route("/_standin/workitems/{id:int}/state", control(_set_state), methods=["POST"]),
        Route("/_standin/hook", control(lambda s, d, r: s.set_hook(**d)), methods=["POST"]),
        Route("/_standin/hook/deliveries", control(_deliveries), methods=["GET", "DELETE"]),
        Route("/_standin/hook/deliveries/{index}/resend", control(_resend), methods=["POST"]),
        Route("/_standin/faults", control(_faults), methods=["GET", "POST", "DELETE"]),
        Route("/_standin/calls", control(_calls), methods=["GET", "DELETE"]),
        Route("/{path:path}", _rest, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]
    app = Starlette(routes=routes)
    app.state.standin = standin or DevOpsStandin()
    return app

"""The `/_standin/` control endpoints' common shape, for every stand-in: JSON in, JSON out."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def control(handler: Callable[[Any, Any, Request], Any]) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint calling `handler(standin, JSON body, request)`: its result as JSON (201 to
    a POST), 204 for None, a response as it is; a seed it cannot take answers 400."""

    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        try:
            result = handler(request.app.state.standin, json.loads(raw) if raw else {}, request)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, 400)
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(status_code=204)
        return JSONResponse(result, 201 if request.method == "POST" else 200)

    return endpoint

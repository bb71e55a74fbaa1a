"""Operations API: health, the audit log, dead letters and replay.

Clients may be generated from `/openapi.json`, so every answer an operation gives is
declared on it, and bad input is refused by FastAPI's own validation, in the shape it
documents.
"""

from __future__ import annotations

import asyncio
import hmac
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from bridge.store import MAX_ID, STATES, Store
from bridge.store.attention import Attention, Waiting
from bridge.web.billing import router as billing_routes
from bridge.workflows.registry import WorkflowRegistry

DeliveryState = StrEnum("DeliveryState", {state.upper(): state for state in STATES})  # type: ignore[misc]


class ErrorMessage(BaseModel):
    detail: str


class Readiness(BaseModel):
    ready: bool
    database: str
    workflows: list[str] | str
    tracker: str
    dry_run: bool
    refused_workflow_change: list[str] | None = None


health = APIRouter()
api = APIRouter(
    prefix="/api",
    responses={
        401: {"model": ErrorMessage, "description": "No valid admin bearer token"},
        403: {"model": ErrorMessage, "description": "The API is off: BRIDGE_ADMIN_TOKEN is not set"},
    },
)


def _store(request: Request) -> Store:
    return request.app.state.store


def _registry(request: Request) -> WorkflowRegistry:
    return request.app.state.registry


StoreDep = Annotated[Store, Depends(_store)]
RegistryDep = Annotated[WorkflowRegistry, Depends(_registry)]


def require_admin(request: Request) -> None:
    token = request.app.state.settings.admin_token
    if token is None:
        raise HTTPException(403, "the API is off: set BRIDGE_ADMIN_TOKEN to use it")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.encode(), token.get_secret_value().encode()
    ):
        raise HTTPException(401, "a valid admin bearer token is required", {"WWW-Authenticate": "Bearer"})


@health.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@health.get(
    "/readyz",
    responses={
        200: {"model": Readiness, "description": "Ready"},
        503: {"model": Readiness, "description": "Database unreachable or no workflows loaded"},
    },
)
async def readyz(store: StoreDep, registry: RegistryDep, request: Request) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        await asyncio.to_thread(store.ping)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    checks["workflows"] = registry.current.names if len(registry.current) else "none loaded"
    if registry.last_problems:
        checks["refused_workflow_change"] = [str(p) for p in registry.last_problems]
    settings, sites = request.app.state.settings, request.app.state.services.sites
    healths = {name: site.health for name, site in sites.items()}
    if not settings.tracker_configured:
        checks["tracker"] = "not configured"
    elif len(healths) == 1:
        checks["tracker"] = next(iter(healths.values())).describe()
    else:
        checks["tracker"] = {name: health.describe() for name, health in healths.items()}
    checks["dry_run"] = settings.is_dry
    ready = checks["database"] == "ok" and len(registry.current) > 0 and all(h.ok for h in healths.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


@api.get("/decisions", dependencies=[Depends(require_admin)])
async def list_decisions(
    store: StoreDep,
    ticket: str | None = None,
    verdict: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    return await asyncio.to_thread(store.list_decisions, ticket, verdict, limit)


@api.get("/attention", dependencies=[Depends(require_admin)])
async def attention(store: StoreDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[Waiting]:
    """Tickets waiting for the team, the longest waiting first: a customer changed them last,
    or a decision needs someone; from the bridge's own records."""
    return await asyncio.to_thread(Attention(store.engine).queue, limit)


@api.get("/deliveries", dependencies=[Depends(require_admin)])
async def list_deliveries(
    store: StoreDep,
    state: DeliveryState | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    body: bool = False,
) -> list[dict[str, Any]]:
    wanted = state.value if state is not None else None
    return await asyncio.to_thread(store.list_deliveries, wanted, limit, body)


@api.post(
    "/deliveries/{delivery_id}/replay",
    dependencies=[Depends(require_admin)],
    responses={409: {"model": ErrorMessage, "description": "No such delivery, or not dead or done"}},
)
async def replay(
    delivery_id: Annotated[int, Path(ge=1, le=MAX_ID)], store: StoreDep, request: Request
) -> dict[str, Any]:
    if not await asyncio.to_thread(store.replay, delivery_id):
        raise HTTPException(409, f"delivery {delivery_id} does not exist or is not dead or done")
    request.app.state.worker.wake()
    return {"delivery": delivery_id, "state": "pending"}


@api.get("/workflows", dependencies=[Depends(require_admin)])
async def workflows(registry: RegistryDep) -> dict[str, Any]:
    return {
        "workflows": [
            {"name": wf.name, "applies_to": wf.applies_to.model_dump(), "language": wf.language}
            for wf in registry.current
        ],
        "refused_workflow_change": [str(p) for p in registry.last_problems],
    }


def include_routes(app: FastAPI) -> None:
    app.include_router(health)
    app.include_router(api)
    app.include_router(billing_routes)

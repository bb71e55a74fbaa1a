"""Finance API: billing previews, final runs and their exports.

Finance holds its own token (`BRIDGE_FINANCE_TOKEN`), which opens these routes and nothing
else; the admin token opens them too. An export is written whole to a temporary file (in
memory while small) before the first byte is sent, so a tracker failure is answered with an
error, never with half a file.
"""

from __future__ import annotations

import asyncio
import hmac
import tempfile
from collections.abc import Iterator
from enum import StrEnum
from typing import IO, Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from bridge.billing.export import Billing, ExportError, Layout, describe, write_run
from bridge.billing.model import Period
from bridge.billing.period import PeriodError, parse_period
from bridge.store import MAX_ID
from bridge.site_services import UnknownSite
from bridge.store.ledger import LedgerConflict
from bridge.trackers.base import TrackerError

SPOOL_BYTES = 4 << 20  # an export up to this size stays in memory, a larger one on disk
CHUNK = 64 << 10
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


class Format(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"


class Granularity(StrEnum):
    TICKET = "ticket"
    WORKLOG = "worklog"


class Delimiter(StrEnum):
    COMMA = ","
    SEMICOLON = ";"
    TAB = "tab"


class ErrorMessage(BaseModel):
    detail: str


class Invalid(BaseModel):
    """What is not valid: the reason in words (a period), or FastAPI's list of the
    parameters refused (an unknown format)."""

    detail: str | list[dict[str, Any]]


class Run(BaseModel):
    id: int
    tracker: str
    from_: str = Field(alias="from")
    to: str
    time_zone: str
    requested_by: str
    created_at: str
    tickets: int
    seconds: int
    hours: str


EXPORT_DOCUMENT = {  # the JSON export (see bridge.billing.writers)
    "type": "object",
    "required": ["run", "tracker", "period", "granularity", "rows", "totals"],
    "properties": {
        "run": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "tracker": {"type": "string"},
        "period": {"type": "object"},
        "granularity": {"type": "string", "enum": ["ticket", "worklog"]},
        "rows": {"type": "array", "items": {"type": "object"}},
        "totals": {"type": "object"},
    },
}


def require_finance(request: Request) -> str:
    """Who asks: `finance` or `admin`, by the bearer token given."""
    settings = request.app.state.settings
    tokens = {"finance": settings.finance_token, "admin": settings.admin_token}
    if not any(tokens.values()):
        raise HTTPException(403, "the billing API is off: set BRIDGE_FINANCE_TOKEN to use it")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        for who, token in tokens.items():
            if token is not None and hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
                return who
    raise HTTPException(401, "a valid finance or admin bearer token is required", {"WWW-Authenticate": "Bearer"})


Asker = Annotated[str, Depends(require_finance)]
FILE = {
    "description": "The export",
    "content": {
        "text/csv": {"schema": {"type": "string", "format": "binary"}},
        MEDIA["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": EXPORT_DOCUMENT},
    },
}
router = APIRouter(
    prefix="/api/billing",
    tags=["billing"],
    responses={
        401: {"model": ErrorMessage, "description": "No valid finance or admin bearer token"},
        403: {"model": ErrorMessage, "description": "The billing API is off: no token is set"},
    },
)


def _billing(
    request: Request,
    site: Annotated[str | None, Query(description="The site whose work is billed (default: the first).")] = None,
) -> Billing:
    if not request.app.state.settings.tracker_configured:
        raise HTTPException(503, "no tracker configured: there is no work to read")
    try:
        return request.app.state.services.site(site).billing
    except UnknownSite as exc:
        raise HTTPException(422, str(exc)) from None


BillingAsked = Annotated[Billing, Depends(_billing)]


def _period(
    request: Request,
    first: Annotated[str | None, Query(alias="from", description="First day, YYYY-MM-DD.")] = None,
    last: Annotated[str | None, Query(alias="to", description="Last day, YYYY-MM-DD, inclusive.")] = None,
    month: Annotated[str | None, Query(description="A whole month, YYYY-MM.")] = None,
) -> Period:
    try:
        return parse_period(ZoneInfo(request.app.state.settings.timezone), first, last, month)
    except PeriodError as exc:
        raise HTTPException(422, str(exc)) from None


def _layout(
    format: Format = Format.CSV,
    granularity: Granularity = Granularity.TICKET,
    delimiter: Delimiter = Delimiter.COMMA,
) -> Layout:
    return Layout(format.value, granularity.value, "\t" if delimiter is Delimiter.TAB else delimiter.value)


PeriodAsked = Annotated[Period, Depends(_period)]
LayoutAsked = Annotated[Layout, Depends(_layout)]


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    with spool:
        spool.seek(0)
        while chunk := spool.read(CHUNK):
            yield chunk


def _file(spool: IO[bytes], fmt: str, name: str) -> StreamingResponse:
    headers = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    return StreamingResponse(_chunks(spool), media_type=MEDIA[fmt], headers=headers)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: FILE,
        422: {"model": Invalid, "description": "The period or a choice is not valid"},
        502: {"model": ErrorMessage, "description": "The tracker failed while reading"},
        503: {"model": ErrorMessage, "description": "No tracker configured"},
    },
)
async def preview(asker: Asker, period: PeriodAsked, layout: LayoutAsked, billing: BillingAsked) -> StreamingResponse:
    """The period's billable work as it stands; nothing is recorded."""
    spool = tempfile.SpooledTemporaryFile(SPOOL_BYTES)
    try:
        await billing.preview(period, layout, spool, f"api:{asker}")
    except TrackerError as exc:
        spool.close()
        raise HTTPException(502, f"reading the tracker failed: {exc}") from None
    return _file(spool, layout.fmt, f"billing-preview-{period.first}_{period.last}")


@router.post(
    "/runs",
    status_code=201,
    responses={
        201: {"model": Run, "description": "The run recorded; its export at /api/billing/runs/{id}"},
        409: {"model": ErrorMessage, "description": "Another final run billed some of the work meanwhile"},
        422: {"model": Invalid, "description": "The period is not valid"},
        502: {"model": ErrorMessage, "description": "The tracker failed while reading: nothing recorded"},
        503: {"model": ErrorMessage, "description": "No tracker configured"},
    },
)
async def bill_period(asker: Asker, period: PeriodAsked, billing: BillingAsked) -> JSONResponse:
    """Bill the period: a final run is recorded in the ledger, and no later export bills
    the same work again."""
    try:
        run = await billing.record(period, f"api:{asker}")
    except TrackerError as exc:
        raise HTTPException(502, f"reading the tracker failed, nothing was recorded: {exc}") from None
    except LedgerConflict as exc:
        raise HTTPException(409, f"{exc}; nothing was recorded, bill again") from None
    return JSONResponse(describe(run), status_code=201, headers={"Location": f"/api/billing/runs/{run.id}"})


@router.get("/runs", response_model=list[Run], response_model_by_alias=True)
async def runs(request: Request, asker: Asker) -> list[dict[str, Any]]:
    """Final runs, newest first."""
    ledger = request.app.state.services.billing.ledger
    return [describe(run) for run in await asyncio.to_thread(ledger.runs)]


@router.get(
    "/runs/{run_id}",
    response_class=StreamingResponse,
    responses={
        200: FILE,
        422: {"model": Invalid, "description": "No such run, or a choice is not valid"},
    },
)
async def run_export(
    request: Request,
    asker: Asker,
    run_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    layout: LayoutAsked,
) -> StreamingResponse:
    """A final run exported again, identical to every earlier export of it."""
    ledger = request.app.state.services.billing.ledger
    spool = tempfile.SpooledTemporaryFile(SPOOL_BYTES)
    try:
        await asyncio.to_thread(write_run, ledger, run_id, layout, spool)
    except ExportError as exc:
        spool.close()
        raise HTTPException(422, str(exc)) from None
    return _file(spool, layout.fmt, f"billing-run-{run_id}")

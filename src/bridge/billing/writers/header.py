"""What every export says about itself, which columns it has and what it adds up to,
whatever its format: the part of an export that finance checks against the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from bridge.billing.model import TICKET_COLUMNS, WORKLOG_COLUMNS, Period, Row
from bridge.billing.writers.cells import exact_hours

GRANULARITIES = ("ticket", "worklog")


@dataclass(frozen=True)
class ExportHeader:
    """Written into the documents that can carry it (JSON, the XLSX's second sheet), so a
    file found later still tells which run and period it came from."""

    period: Period
    tracker: str
    granularity: str  # "ticket" | "worklog"
    run: int | None  # the final run's id; None for a preview
    created_at: datetime
    requested_by: str | None = None

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise ValueError(
                f"granularity must be one of {', '.join(GRANULARITIES)}, not {self.granularity!r}"
            )

    @property
    def columns(self) -> tuple[str, ...]:
        if self.granularity == "worklog":
            return TICKET_COLUMNS + WORKLOG_COLUMNS
        return TICKET_COLUMNS


@dataclass
class Totals:
    """Counted while rows stream past, since they are never held together.

    `hours` adds up each row's rounded hours, not the hours of all seconds: it is the
    figure a reader gets by summing the hours column, which may differ from
    `hours(seconds)` by a cent or so."""

    rows: int = 0
    seconds: int = 0
    hours: Decimal = field(default_factory=lambda: Decimal("0.00"))

    def add(self, row: Row) -> None:
        self.rows += 1
        self.seconds += row.seconds
        self.hours += exact_hours(row)

"""Billing: which work is billable in a period, the bills made of it, and the exports
finance reads (CSV, XLSX, JSON)."""

from __future__ import annotations

from bridge.billing.model import (
    TICKET_COLUMNS,
    WORKLOG_COLUMNS,
    Approval,
    Bill,
    Line,
    LineKind,
    Period,
    Row,
    hours,
    rows_of,
)

__all__ = [
    "TICKET_COLUMNS",
    "WORKLOG_COLUMNS",
    "Approval",
    "Bill",
    "Line",
    "LineKind",
    "Period",
    "Row",
    "hours",
    "rows_of",
]

"""JSON for accounting tools: one document, written as rows arrive so that a large export
is never held whole. Hours are JSON numbers written from the Decimal itself (`1.50`, never
`1.5000000001`), and every row carries its seconds as an integer for tools that add up
exactly. Text is written as it is: no spreadsheet reads this, so nothing is neutralised."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import BinaryIO
from zoneinfo import ZoneInfo

from bridge.billing.model import Row
from bridge.billing.writers.cells import exact_hours, local
from bridge.billing.writers.header import ExportHeader, Totals

_dumps = json.JSONEncoder(ensure_ascii=False).encode  # one encoder, not one per value


def write_json(header: ExportHeader, rows: Iterable[Row], out: BinaryIO) -> Totals:
    zone = header.period.zone
    totals = Totals()
    text = io.TextIOWrapper(out, encoding="utf-8", newline="\n")
    try:
        text.write(_opening(header))
        for row in rows:
            text.write(",\n    " if totals.rows else "\n    ")
            text.write(_object(_row_fields(row, header.columns, zone)))
            totals.add(row)
        text.write("\n  ],\n" if totals.rows else "],\n")
        summary = {"rows": totals.rows, "hours": totals.hours, "seconds": totals.seconds}
        text.write(f'  "totals": {_object(summary)}\n}}\n')
        text.flush()
    finally:
        text.detach()  # the caller's stream stays open
    return totals


def _opening(header: ExportHeader) -> str:
    """Everything before the first row, up to and including `"rows": [`."""
    period = header.period
    fields = {
        "run": header.run,
        "tracker": header.tracker,
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "time_zone": period.zone.key,
        },
        "granularity": header.granularity,
        "created_at": local(header.created_at, period.zone).isoformat(),
        "requested_by": header.requested_by,
    }
    lines = [f"  {_dumps(name)}: {_dumps(value)},\n" for name, value in fields.items()]
    return "{\n" + "".join(lines) + '  "rows": ['


def _row_fields(row: Row, columns: tuple[str, ...], zone: ZoneInfo) -> dict[str, object]:
    fields: dict[str, object] = {}
    for column in columns:
        value = exact_hours(row) if column == "hours" else getattr(row, column)
        fields[column] = local(value, zone).isoformat() if isinstance(value, datetime) else value
    fields["seconds"] = row.seconds
    return fields


def _object(fields: dict[str, object]) -> str:
    """A JSON object on one line; a Decimal goes in as the number it prints as."""
    members = (
        f"{_dumps(name)}: {value if isinstance(value, Decimal) else _dumps(value)}"
        for name, value in fields.items()
    )
    return "{" + ", ".join(members) + "}"

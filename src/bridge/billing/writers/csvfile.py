"""CSV for spreadsheets: UTF-8 with a byte order mark, because without it Excel reads the
file in the machine's legacy code page and mangles Czech and Polish names."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import BinaryIO
from zoneinfo import ZoneInfo

from bridge.billing.model import Row
from bridge.billing.writers.cells import exact_hours, local, neutralised
from bridge.billing.writers.header import ExportHeader, Totals

# Comma is the default; spreadsheets in locales with a decimal comma expect semicolons.
DELIMITERS = (",", ";", "\t")


def check_delimiter(delimiter: str) -> None:
    if delimiter not in DELIMITERS:
        allowed = ", ".join(repr(d) for d in DELIMITERS)
        raise ValueError(f"CSV delimiter must be one of {allowed}, not {delimiter!r}")


def write_csv(
    header: ExportHeader, rows: Iterable[Row], out: BinaryIO, *, delimiter: str = ","
) -> Totals:
    check_delimiter(delimiter)
    columns = header.columns
    zone = header.period.zone
    totals = Totals()
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="")
    try:
        writer = csv.writer(text, delimiter=delimiter)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row, column, zone) for column in columns])
            totals.add(row)
        text.flush()
    finally:
        text.detach()  # the caller's stream stays open
    return totals


def _cell(row: Row, column: str, zone: ZoneInfo) -> str:
    if column == "hours":
        return str(exact_hours(row))  # a dot whatever the delimiter: a number, not text
    value = getattr(row, column)
    if value is None:
        return ""
    if isinstance(value, datetime):
        return f"{local(value, zone):%Y-%m-%d %H:%M}"
    return neutralised(value)

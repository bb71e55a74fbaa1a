"""Billing exports as files finance opens: CSV and XLSX for spreadsheets, JSON for
accounting tools. Rows stream through: a writer counts what it writes and never holds more
than one row, so an export of a hundred thousand worklogs costs no more memory than ten."""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO

from bridge.billing.model import Row
from bridge.billing.writers.csvfile import DELIMITERS, check_delimiter, write_csv
from bridge.billing.writers.header import GRANULARITIES, ExportHeader, Totals
from bridge.billing.writers.jsonfile import write_json
from bridge.billing.writers.xlsxfile import write_xlsx

FORMATS = ("csv", "xlsx", "json")

__all__ = [
    "DELIMITERS",
    "FORMATS",
    "GRANULARITIES",
    "ExportHeader",
    "Totals",
    "write_export",
]


def write_export(
    fmt: str,
    header: ExportHeader,
    rows: Iterable[Row],
    out: BinaryIO,
    *,
    delimiter: str = ",",
) -> Totals:
    """Write `rows` to `out` as `fmt`; `delimiter` matters to CSV only.

    Arguments are checked before the first byte is written, so a mistake leaves no half
    file behind for the caller to clean up."""
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "csv":
        check_delimiter(delimiter)
        return write_csv(header, rows, out, delimiter=delimiter)
    if fmt == "xlsx":
        return write_xlsx(header, rows, out)
    return write_json(header, rows, out)

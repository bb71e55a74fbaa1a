"""XLSX for finance's spreadsheets: typed cells (hours are numbers, dates are dates), a bold
frozen header, a totals row, and a second sheet saying which run and period the file holds.

openpyxl's write-only workbook streams each row to a temporary file and writes strings
inline, so memory stays flat however many rows there are; its price is that widths, and
everything else about the sheet, must be set before the first row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bridge.billing.model import Row
from bridge.billing.writers.cells import exact_hours, local, neutralised
from bridge.billing.writers.header import ExportHeader, Totals

if TYPE_CHECKING:
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

HOURS_FORMAT = "0.00"
DATE_FORMAT = "yyyy-mm-dd hh:mm"
BOLD = Font(bold=True)

WIDTHS = {
    "ticket": 12, "summary": 50, "type": 14, "organization": 28, "reporter": 22,
    "done_at": 17, "approval": 10, "kind": 18, "hours": 10, "reason": 40,
    "worklog_id": 12, "author": 22, "started": 17, "comment": 50,
}


def write_xlsx(header: ExportHeader, rows: Iterable[Row], out: BinaryIO) -> Totals:
    columns = header.columns
    zone = header.period.zone
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Billing")
    for index, column in enumerate(columns, 1):
        sheet.column_dimensions[get_column_letter(index)].width = WIDTHS.get(column, 15)
    sheet.freeze_panes = "A2"
    sheet.append([_bold(sheet, column) for column in columns])
    totals = Totals()
    for row in rows:
        sheet.append([_cell(sheet, row, column, zone) for column in columns])
        totals.add(row)
    sheet.append(_totals_row(sheet, columns, totals))
    _describe(book.create_sheet("Export"), header)
    book.save(out)
    return totals


def _cell(sheet: WriteOnlyWorksheet, row: Row, column: str, zone: ZoneInfo) -> object:
    if column == "hours":
        cell = WriteOnlyCell(sheet, exact_hours(row))
        cell.number_format = HOURS_FORMAT
        return cell
    value = getattr(row, column)
    if isinstance(value, datetime):
        return _date(sheet, value, zone)
    if value is None or value == "":
        return None
    return _text(value)


def _totals_row(sheet: WriteOnlyWorksheet, columns: tuple[str, ...], totals: Totals) -> list:
    """`Total` under the first column and the sum under hours. A formula keeps the total
    right when finance edits a row; an empty export has no range to sum, so gets 0."""
    hours_at = columns.index("hours") + 1
    letter = get_column_letter(hours_at)
    last = totals.rows + 1
    total = WriteOnlyCell(sheet, f"=SUM({letter}2:{letter}{last})" if totals.rows else 0)
    total.number_format = HOURS_FORMAT
    total.font = BOLD
    cells: list[object] = [None] * len(columns)
    cells[0] = _bold(sheet, "Total")
    cells[hours_at - 1] = total
    return cells


def _describe(sheet: WriteOnlyWorksheet, header: ExportHeader) -> None:
    zone = header.period.zone
    sheet.column_dimensions["A"].width = 14
    sheet.column_dimensions["B"].width = 30
    facts = [
        ("run", header.run if header.run is not None else "preview"),
        ("tracker", _text(header.tracker)),
        ("period", f"{header.period.first.isoformat()} to {header.period.last.isoformat()}"),
        ("time zone", header.period.zone.key),
        ("granularity", header.granularity),
        ("created at", _date(sheet, header.created_at, zone)),
        ("requested by", _text(header.requested_by or "")),
    ]
    for name, value in facts:
        sheet.append([_bold(sheet, name), value])


def _date(sheet: WriteOnlyWorksheet, moment: datetime, zone: ZoneInfo) -> WriteOnlyCell:
    """Naive, in the period's zone: Excel has no time zones."""
    cell = WriteOnlyCell(sheet, local(moment, zone).replace(tzinfo=None))
    cell.number_format = DATE_FORMAT
    return cell


def _bold(sheet: WriteOnlyWorksheet, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, text)
    cell.font = BOLD
    return cell


def _text(value: str) -> str:
    """Control characters XML cannot hold are dropped; openpyxl would refuse the cell."""
    return neutralised(ILLEGAL_CHARACTERS_RE.sub("", value))

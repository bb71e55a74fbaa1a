"""Billing exports as finance opens them: read back with the csv module, openpyxl and json,
the way a spreadsheet or an accounting tool would see them."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from bridge.billing.model import TICKET_COLUMNS, WORKLOG_COLUMNS, Period, Row
from bridge.billing.writers import FORMATS, ExportHeader, write_export

PRAGUE = ZoneInfo("Europe/Prague")
MAY = Period(date(2024, 5, 1), date(2024, 5, 31), PRAGUE)
CREATED = datetime(2024, 6, 1, 6, 0, tzinfo=UTC)
MB = 1024 * 1024


def header(granularity: str = "ticket", run: int | None = 42) -> ExportHeader:
    return ExportHeader(
        period=MAY, tracker="jira", granularity=granularity, run=run,
        created_at=CREATED, requested_by="Żaneta Wójcik",
    )


def row(**changes: object) -> Row:
    fields: dict[str, object] = dict(
        ticket="SUP-1", summary="Tiskárna ve třetím patře netiskne", type="Incident",
        organization="Łódź Logistyka sp. z o.o.", reporter="Jiří Dvořák",
        # late evening of 30 April in UTC is already 1 May in Prague
        done_at=datetime(2024, 4, 30, 22, 30, tzinfo=UTC), approval="manual",
        kind="work", seconds=5400,
    )
    fields.update(changes)
    return Row(**fields)  # type: ignore[arg-type]


def worklog_row(**changes: object) -> Row:
    fields: dict[str, object] = dict(
        worklog_id="10001", author="Agnieszka Żółć",
        started=datetime(2024, 5, 2, 7, 15, tzinfo=UTC), comment="Vyměněn toner, ověřena fronta",
    )
    fields.update(changes)
    return row(**fields)


FORMULA_SUMMARY = '=HYPERLINK("http://evil.example/", "Zaplaťte zde")'
ADJUSTMENT = dict(
    ticket="SUP-2", summary="@SUM(A1:A9)", comment="+420 123 456 789", kind="adjustment",
    seconds=-1800, reason="-hours changed from 2.00 to 1.50",
)


def export(fmt: str, rows: list[Row], granularity: str = "ticket", **options: object) -> bytes:
    out = io.BytesIO()
    write_export(fmt, header(granularity), iter(rows), out, **options)  # type: ignore[arg-type]
    return out.getvalue()


def read_csv(data: bytes, delimiter: str = ",") -> list[dict[str, str]]:
    text = io.StringIO(data.decode("utf-8-sig"), newline="")
    return list(csv.DictReader(text, delimiter=delimiter))


def read_xlsx(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


# CSV


def test_csv_has_a_bom_so_excel_shows_czech_and_polish_letters() -> None:
    data = export("csv", [row()])

    assert data.startswith(b"\xef\xbb\xbf")
    [read] = read_csv(data)
    assert tuple(read) == TICKET_COLUMNS
    assert read["summary"] == "Tiskárna ve třetím patře netiskne"
    assert read["organization"] == "Łódź Logistyka sp. z o.o."
    assert read["reporter"] == "Jiří Dvořák"
    assert read["hours"] == "1.50"


def test_csv_dates_are_local_to_the_period() -> None:
    [read] = read_csv(export("csv", [worklog_row()], "worklog"))

    assert read["done_at"] == "2024-05-01 00:30"
    assert read["started"] == "2024-05-02 09:15"


def test_csv_with_semicolons_keeps_a_dot_in_hours() -> None:
    data = export("csv", [row(summary="Účet; druhá část")], delimiter=";")

    [read] = read_csv(data, delimiter=";")
    assert read["hours"] == "1.50"
    assert read["summary"] == "Účet; druhá část"
    assert data.decode("utf-8-sig").splitlines()[0] == ";".join(TICKET_COLUMNS)


def test_csv_with_tabs() -> None:
    [read] = read_csv(export("csv", [row()], delimiter="\t"), delimiter="\t")

    assert read["ticket"] == "SUP-1"


@pytest.mark.parametrize("delimiter", ["|", ",,", "", "."])
def test_csv_refuses_other_delimiters_before_writing(delimiter: str) -> None:
    out = io.BytesIO()

    with pytest.raises(ValueError, match="delimiter must be one of"):
        write_export("csv", header(), iter([row()]), out, delimiter=delimiter)
    assert out.getvalue() == b""


def test_csv_neutralises_formulas_in_text_but_not_negative_hours() -> None:
    data = export("csv", [row(summary=FORMULA_SUMMARY), worklog_row(**ADJUSTMENT)], "worklog")

    first, adjustment = read_csv(data)
    assert first["summary"] == "'" + FORMULA_SUMMARY
    assert adjustment["summary"] == "'@SUM(A1:A9)"
    assert adjustment["comment"] == "'+420 123 456 789"
    assert adjustment["reason"] == "'-hours changed from 2.00 to 1.50"
    assert adjustment["hours"] == "-0.50"


@pytest.mark.parametrize("start", ["\t", "\r"])
def test_csv_neutralises_text_starting_with_tab_or_carriage_return(start: str) -> None:
    [read] = read_csv(export("csv", [row(summary=start + "=1+1")]))

    assert read["summary"] == "'" + start + "=1+1"


def test_csv_at_worklog_granularity_adds_the_worklog_columns() -> None:
    [read] = read_csv(export("csv", [worklog_row()], "worklog"))

    assert tuple(read) == TICKET_COLUMNS + WORKLOG_COLUMNS
    assert read["worklog_id"] == "10001"
    assert read["author"] == "Agnieszka Żółć"
    assert read["comment"] == "Vyměněn toner, ověřena fronta"


def test_empty_csv_is_the_header_alone() -> None:
    data = export("csv", [])

    assert data.decode("utf-8-sig") == ",".join(TICKET_COLUMNS) + "\r\n"


def test_csv_leaves_the_callers_stream_open() -> None:
    out = io.BytesIO()
    write_export("csv", header(), iter([row()]), out)

    out.write(b"more")
    assert out.getvalue().endswith(b"more")


# XLSX


def test_xlsx_cells_are_typed_under_a_bold_frozen_header() -> None:
    book = read_xlsx(export("xlsx", [worklog_row()], "worklog"))
    sheet = book["Billing"]
    names = [cell.value for cell in sheet[1]]
    values = dict(zip(names, (cell for cell in sheet[2]), strict=True))

    assert tuple(names) == TICKET_COLUMNS + WORKLOG_COLUMNS
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert values["hours"].value == 1.5
    assert isinstance(values["hours"].value, float)
    assert values["hours"].number_format == "0.00"
    assert values["done_at"].value == datetime(2024, 5, 1, 0, 30)
    assert values["done_at"].is_date
    assert values["started"].value == datetime(2024, 5, 2, 9, 15)
    assert values["organization"].value == "Łódź Logistyka sp. z o.o."
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["A"].width


def test_xlsx_ends_with_a_totals_row_summing_the_hours() -> None:
    rows = [row(), row(ticket="SUP-2", seconds=2700), row(ticket="SUP-3", seconds=-900)]
    sheet = read_xlsx(export("xlsx", rows))["Billing"]
    hours = openpyxl.utils.get_column_letter(TICKET_COLUMNS.index("hours") + 1)

    last = list(sheet.iter_rows(min_row=sheet.max_row, values_only=True))[0]
    assert sheet.max_row == 5
    assert last[0] == "Total"
    assert last[TICKET_COLUMNS.index("hours")] == f"=SUM({hours}2:{hours}4)"
    assert sum(sheet[f"{hours}{n}"].value for n in range(2, 5)) == 2.0


def test_xlsx_neutralises_formulas_in_text_but_not_negative_hours() -> None:
    data = export("xlsx", [row(summary=FORMULA_SUMMARY), worklog_row(**ADJUSTMENT)], "worklog")
    sheet = read_xlsx(data)["Billing"]
    columns = TICKET_COLUMNS + WORKLOG_COLUMNS
    first, adjustment = (
        dict(zip(columns, values, strict=True))
        for values in sheet.iter_rows(min_row=2, max_row=3, values_only=True)
    )

    assert first["summary"] == "'" + FORMULA_SUMMARY
    assert adjustment["summary"] == "'@SUM(A1:A9)"
    assert adjustment["comment"] == "'+420 123 456 789"
    assert adjustment["reason"] == "'-hours changed from 2.00 to 1.50"
    assert adjustment["hours"] == -0.5


def test_xlsx_drops_control_characters_xml_cannot_hold() -> None:
    sheet = read_xlsx(export("xlsx", [row(summary="Tiskárna\x0b\x01 netiskne")]))["Billing"]

    assert sheet["B2"].value == "Tiskárna netiskne"


def test_xlsx_says_which_run_and_period_it_holds() -> None:
    about = read_xlsx(export("xlsx", [row()]))["Export"]
    facts = {name: value for name, value in about.iter_rows(values_only=True)}

    assert facts["run"] == 42
    assert facts["period"] == "2024-05-01 to 2024-05-31"
    assert facts["time zone"] == "Europe/Prague"
    assert facts["created at"] == datetime(2024, 6, 1, 8, 0)
    assert facts["requested by"] == "Żaneta Wójcik"


def test_empty_xlsx_has_the_header_and_a_zero_total() -> None:
    sheet = read_xlsx(export("xlsx", []))["Billing"]

    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == TICKET_COLUMNS
    assert rows[1][0] == "Total"
    assert rows[1][TICKET_COLUMNS.index("hours")] == 0
    assert len(rows) == 2


# JSON


def test_json_parses_with_hours_exact_and_totals_that_add_up() -> None:
    rows = [row(), worklog_row(**ADJUSTMENT), row(ticket="SUP-3", seconds=20)]
    data = export("json", rows, "worklog")
    document = json.loads(data, parse_float=Decimal)

    assert document["run"] == 42
    assert document["tracker"] == "jira"
    assert document["period"] == {
        "from": "2024-05-01", "to": "2024-05-31", "time_zone": "Europe/Prague",
    }
    assert document["granularity"] == "worklog"
    assert document["created_at"] == "2024-06-01T08:00:00+02:00"
    assert document["requested_by"] == "Żaneta Wójcik"
    hours = [r["hours"] for r in document["rows"]]
    assert hours == [Decimal("1.50"), Decimal("-0.50"), Decimal("0.01")]
    assert b'"hours": 1.50,' in data
    assert document["totals"] == {"rows": 3, "hours": Decimal("1.01"), "seconds": 5400 - 1800 + 20}
    assert sum(r["seconds"] for r in document["rows"]) == document["totals"]["seconds"]


def test_json_rows_carry_the_columns_local_times_and_text_as_written() -> None:
    data = export("json", [worklog_row(summary=FORMULA_SUMMARY)], "worklog")
    [written] = json.loads(data)["rows"]

    assert list(written) == [*TICKET_COLUMNS, *WORKLOG_COLUMNS, "seconds"]
    assert written["done_at"] == "2024-05-01T00:30:00+02:00"
    assert written["started"] == "2024-05-02T09:15:00+02:00"
    assert written["summary"] == FORMULA_SUMMARY
    assert "Łódź".encode() in data


def test_json_at_ticket_granularity_has_no_worklog_fields() -> None:
    [written] = json.loads(export("json", [row()]))["rows"]

    assert list(written) == [*TICKET_COLUMNS, "seconds"]


def test_empty_json_preview_is_a_valid_document_with_zero_totals() -> None:
    out = io.BytesIO()
    totals = write_export("json", header(run=None), iter([]), out)
    document = json.loads(out.getvalue())

    assert document["run"] is None
    assert document["rows"] == []
    assert document["totals"] == {"rows": 0, "hours": 0, "seconds": 0}
    assert totals.rows == 0


# Every format


@pytest.mark.parametrize("fmt", FORMATS)
def test_totals_returned_are_the_sum_of_the_hours_column(fmt: str) -> None:
    rows = [row(seconds=20), row(seconds=20), row(seconds=20), row(seconds=-1)]
    totals = write_export(fmt, header(), iter(rows), io.BytesIO())

    # each row shows 0.01 (and the last 0.00, not -0.00): three cents, not hours(59 s) = 0.02
    assert (totals.rows, totals.seconds, totals.hours) == (4, 59, Decimal("0.03"))


def test_csv_does_not_show_minus_zero_hours() -> None:
    [read] = read_csv(export("csv", [row(seconds=-1)]))

    assert read["hours"] == "0.00"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format must be one of csv, xlsx, json"):
        write_export("ods", header(), iter([]), io.BytesIO())


def test_unknown_granularity_is_refused() -> None:
    with pytest.raises(ValueError, match="granularity must be one of ticket, worklog"):
        header("day")


# Streaming


def many_rows(count: int) -> Iterator[Row]:
    """Each with text of its own, as real worklogs have: held in a list, 100,000 of these
    take about 70 MB."""
    first = worklog_row()
    for n in range(count):
        yield Row(
            ticket=f"SUP-{n}", summary=f"Ticket {n}: the printer on floor three",
            type=first.type, organization=first.organization, reporter=first.reporter,
            done_at=first.done_at, approval=first.approval, kind=first.kind,
            seconds=900 + n % 3600, worklog_id=str(100_000 + n), author=first.author,
            started=first.done_at + timedelta(minutes=n), comment=f"Worklog {n}: toner replaced",
        )


def peak_while_writing(fmt: str, count: int, path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        with open(path, "wb") as out:
            totals = write_export(fmt, header("worklog"), many_rows(count), out)
        return totals.rows, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_hundred_thousand_rows_stream_through(fmt: str, tmp_path) -> None:
    written, peak = peak_while_writing(fmt, 100_000, tmp_path / f"export.{fmt}")

    assert written == 100_000
    assert peak < 10 * MB


def test_xlsx_streams_rows_through_openpyxl(tmp_path) -> None:
    # openpyxl is slow under tracemalloc: fewer rows (7 MB as a list), a tighter bound
    written, peak = peak_while_writing("xlsx", 10_000, tmp_path / "export.xlsx")

    assert written == 10_000
    assert peak < 3 * MB

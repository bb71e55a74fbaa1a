"""The monthly billing preview: last month's file in BRIDGE_EXPORT_DIR, whole or not at all."""

from __future__ import annotations

from datetime import datetime

import pytest
from openpyxl import load_workbook

from bridge.jobs.exports import monthly_preview, scheduled_preview
from tests.billing.fakes import PRAGUE, Jira, at, ledger, logged, service, sheet  # noqa: F401


async def test_on_the_first_of_the_month_last_months_preview_is_written(ledger, tmp_path):
    jira = Jira(sheet("SRV-1", at(20), logged("1", 5400)), sheet("SRV-2", at(3, 11), logged("2", 600)))
    target = await monthly_preview(service(jira, ledger), tmp_path / "exports", "xlsx", PRAGUE,
                                   now=datetime(2026, 11, 1, 6, tzinfo=PRAGUE))
    assert target == tmp_path / "exports" / "billing-preview-2026-10.xlsx"
    table = list(load_workbook(target).active.values)
    assert [row[0] for row in table[1:-1]] == ["SRV-1"] and table[1][8] == 1.5
    assert ledger.runs() == []  # a preview: nothing billed


async def test_a_failed_preview_leaves_no_file_and_says_what_to_do(ledger, tmp_path, caplog):
    jira = Jira(*(sheet(f"SRV-{n}", at(20), logged(str(n), 600)) for n in range(1, 150)))
    jira.fail_after = 120
    folder = tmp_path / "exports"
    await scheduled_preview(service(jira, ledger), folder, "csv", PRAGUE)
    assert list(folder.iterdir()) == []
    assert "bridge export billing --month" in caplog.text


@pytest.mark.parametrize("fmt", ["csv", "json"])
async def test_a_preview_already_there_is_replaced_whole(ledger, tmp_path, fmt):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / f"billing-preview-2026-10.{fmt}").write_text("old")
    jira = Jira(sheet("SRV-1", at(20), logged("1", 5400)))
    target = await monthly_preview(service(jira, ledger), folder, fmt, PRAGUE, now=datetime(2026, 11, 1, 6, tzinfo=PRAGUE))
    assert "SRV-1" in target.read_text(encoding="utf-8-sig")
    assert [p.name for p in folder.iterdir()] == [target.name]

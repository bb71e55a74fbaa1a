"""Billing exports through the real `bridge` process against the Jira stand-in: what finance
does with them, as the README tells it."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from tests.e2e.conftest import ADMIN, BRIDGE, CUSTOMER, Bridge

pytestmark = pytest.mark.e2e

AGENT = {"accountId": "agent-1", "accountType": "atlassian", "displayName": "Petr Agent"}
REPORTER = {"accountId": "rep-1", "accountType": "customer", "displayName": "Jana Nováková",
            "emailAddress": "jana@zakaznik.cz"}
FINANCE = {"Authorization": "Bearer finance-token"}


def done_ticket(jira, key: str, done_at: str, *worklogs: tuple[str, int, str], approver=CUSTOMER,
                status: str = "Hotovo") -> None:
    """A service sheet approved and done at `done_at`, with `worklogs` (started, seconds, comment)."""
    history = [
        {"from": "Nový", "to": "Realizace", "at": "2026-10-01T09:00:00+02:00", "by": AGENT},
        {"from": "Realizace", "to": "Ke schválení", "at": "2026-10-02T09:00:00+02:00", "by": AGENT},
        {"from": "Ke schválení", "to": "Schváleno", "at": done_at, "by": approver},
        {"from": "Schváleno", "to": "Hotovo", "at": done_at, "by": AGENT},
    ]
    if status != "Hotovo":
        history = [{"from": "Nový", "to": status, "at": done_at, "by": AGENT}]
    jira("POST", "/issues", {
        "key": key, "status": status, "project": "SRV", "history": history,
        "fields": {"summary": f"Úprava tiskové sestavy {key}"},
        "reporter": REPORTER, "organizations": ["Žluťoučký kůň s.r.o."],
        "worklogs": [{"started": s, "seconds": sec, "comment": c, "by": AGENT} for s, sec, c in worklogs],
    })


@pytest.fixture
def october(jira, tmp_path, request):
    done_ticket(jira, "SRV-1", "2026-10-20T15:00:00+02:00",
                ("2026-10-05T09:00:00+02:00", 7200, "analýza"), ("2026-10-06T09:00:00+02:00", 1800, "=1+2"))
    # done in the last second of October, Prague time: October's
    done_ticket(jira, "SRV-2", "2026-10-31T23:59:59+01:00", ("2026-10-30T09:00:00+01:00", 3600, "oprava"),
                approver=None)
    # done a second into November: not October's
    done_ticket(jira, "SRV-3", "2026-11-01T00:00:01+01:00", ("2026-10-30T10:00:00+01:00", 3600, "test"))
    # cancelled with work logged: never billed
    done_ticket(jira, "SRV-4", "2026-10-10T10:00:00+02:00", ("2026-10-09T10:00:00+02:00", 5400, "marně"),
                status="Zrušeno")
    bridge = Bridge(tmp_path, jira.url, BRIDGE_FINANCE_TOKEN="finance-token")
    # this site has the service sheet's statuses, and the Jira projects of another workflow
    # only where a test names it
    keep = {"service-sheet.yaml"} | ({"deso-crm.yaml"} if "refused" in request.node.name else set())
    for other in bridge.workflows.glob("*.yaml"):
        if other.name not in keep:
            other.unlink()
    yield bridge
    bridge.stop()


def export(bridge: Bridge, *args: str) -> str:
    result = bridge.cli("export", "billing", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def rows(text: str, delimiter: str = ",") -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), delimiter=delimiter))


def test_a_month_previewed_billed_exported_again_and_corrected_the_next_month(october, jira, tmp_path):
    bridge = october
    preview = export(bridge, "--month", "2026-10")
    assert preview.startswith("\ufeff")
    found = {row["ticket"]: row for row in rows(preview)}
    assert sorted(found) == ["SRV-1", "SRV-2"]
    assert found["SRV-1"]["hours"] == "2.50" and found["SRV-1"]["approval"] == "manual"
    assert found["SRV-1"]["organization"] == "Žluťoučký kůň s.r.o."
    assert found["SRV-2"]["done_at"] == "2026-10-31 23:59" and found["SRV-2"]["approval"] == "auto"
    assert bridge.cli("billing", "runs").stdout.startswith("0 final billing runs")  # a preview records nothing

    worklogs = rows(export(bridge, "--month", "2026-10", "--granularity", "worklog", "--delimiter", ";"), ";")
    assert [(r["ticket"], r["hours"], r["comment"]) for r in worklogs if r["ticket"] == "SRV-1"] == [
        ("SRV-1", "2.00", "analýza"), ("SRV-1", "0.50", "'=1+2")]

    billed = tmp_path / "october.xlsx"
    final = bridge.cli("export", "billing", "--month", "2026-10", "--final", "--format", "xlsx", "-o", str(billed))
    assert final.returncode == 0, final.stderr
    assert f"final billing run 1 of 2026-10-01..2026-10-31, 2 tickets: 2 rows, 3.50 h → {billed}" in final.stderr
    assert "id=1  from=2026-10-01  to=2026-10-31  tickets=2  hours=3.50" in bridge.cli("billing", "runs").stdout
    sheet = load_workbook(billed).active
    table = list(sheet.values)
    assert table[0][:2] == ("ticket", "summary") and {table[1][0], table[2][0]} == {"SRV-1", "SRV-2"}
    assert table[-1][0] == "Total"

    again = tmp_path / "again.xlsx"
    assert bridge.cli("export", "billing", "--run", "1", "--format", "xlsx", "-o", str(again)).returncode == 0
    assert list(load_workbook(again).active.values) == table
    # billed once: October has nothing more to bill
    assert rows(export(bridge, "--month", "2026-10")) == []

    # November: late work on SRV-1, its first worklog corrected, SRV-2's deleted
    (first, second) = jira("GET", "/issues/SRV-1")["worklogs"]
    jira("PUT", f"/issues/SRV-1/worklogs/{first['id']}", {"seconds": 5400})
    jira("POST", "/issues/SRV-1/worklogs", {"started": "2026-11-03T09:00:00+01:00", "seconds": 900, "comment": "doplnění"})
    (gone,) = jira("GET", "/issues/SRV-2")["worklogs"]
    jira("DELETE", f"/issues/SRV-2/worklogs/{gone['id']}")
    november = rows(export(bridge, "--month", "2026-11", "--granularity", "worklog"))
    lines = sorted((r["ticket"], r["kind"], r["hours"]) for r in november)
    assert lines == [
        ("SRV-1", "adjustment", "-0.50"), ("SRV-1", "late", "0.25"),
        ("SRV-2", "adjustment", "-1.00"), ("SRV-3", "work", "1.00"),
    ]
    reasons = {r["ticket"]: r["reason"] for r in november if r["kind"] == "adjustment"}
    assert "2.00" in reasons["SRV-1"] and "1.50" in reasons["SRV-1"] and "deleted" in reasons["SRV-2"]
    # the October run is still exported as it was billed
    assert list(load_workbook(_export_run(bridge, tmp_path, 1)).active.values) == table


def _export_run(bridge: Bridge, tmp_path: Path, run: int) -> Path:
    target = tmp_path / f"run-{run}.xlsx"
    assert bridge.cli("export", "billing", "--run", str(run), "--format", "xlsx", "-o", str(target)).returncode == 0
    return target


def test_a_tracker_failure_mid_export_records_no_run(october, jira):
    bridge = october
    # more worklogs than a search shows: read on their own, after SRV-1 and SRV-2 were read
    many = [(f"2026-10-{day:02d}T08:00:00+02:00", 600, f"den {day}") for day in range(1, 26)]
    done_ticket(jira, "SRV-5", "2026-10-28T12:00:00+01:00", *many)
    jira("POST", "/faults", {"path_regex": "/issue/SRV-5/worklog", "status": 503, "times": 50, "retry_after": 0})
    failed = bridge.cli("export", "billing", "--month", "2026-10", "--final")
    assert failed.returncode == 1 and "nothing was recorded" in failed.stderr and "503" in failed.stderr
    assert failed.stdout == ""
    assert bridge.cli("billing", "runs").stdout.startswith("0 final billing runs")
    jira("DELETE", "/faults")
    made = bridge.cli("export", "billing", "--month", "2026-10", "--final")
    assert made.returncode == 0 and "3 tickets" in made.stderr


def test_a_final_run_is_refused_while_a_workflow_names_a_status_jira_does_not_have(october):
    preview = october.cli("export", "billing", "--month", "2026-10")
    assert preview.returncode == 0 and "warning: passed over workflow deso-crm" in preview.stderr
    failed = october.cli("export", "billing", "--month", "2026-10", "--final")
    assert failed.returncode == 1 and "'Closed' does not exist" in failed.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--month", "2026-13"), "is not a month"),
        (("--from", "2026-10-31", "--to", "2026-10-01"), "is after"),
        (("--from", "31.10.2026", "--to", "2026-11-01"), "is not a date"),
        (("--month", "2026-10", "--format", "pdf"), "--format must be one of"),
        (("--run", "7", "--month", "2026-10"), "--run exports a recorded run"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, says):
    result = Bridge(tmp_path, None).cli("export", "billing", *args)
    assert result.returncode == 2 and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unknown_run_is_said_plainly(october):
    october.cli("migrate")
    result = october.cli("export", "billing", "--run", "42")
    assert result.returncode == 2 and "no final billing run 42" in result.stderr


def test_the_finance_api_bills_and_exports_with_its_own_token_and_opens_nothing_else(october):
    bridge = october.start()
    url = bridge.url
    for headers, status in (({}, 401), ({"Authorization": "Bearer wrong"}, 401), (FINANCE, 200), (ADMIN, 200)):
        r = httpx.get(f"{url}/api/billing/export", params={"month": "2026-10"}, headers=headers, timeout=30)
        assert r.status_code == status, r.text
    assert httpx.get(f"{url}/api/deliveries", headers=FINANCE, timeout=10).status_code == 401
    assert httpx.get(f"{url}/api/workflows", headers=FINANCE, timeout=10).status_code == 401
    bad = httpx.get(f"{url}/api/billing/export", params={"from": "2026-10-31", "to": "2026-10-01"}, headers=FINANCE)
    assert bad.status_code == 422 and "is after" in bad.json()["detail"]

    made = httpx.post(f"{url}/api/billing/runs", params={"month": "2026-10"}, headers=FINANCE, timeout=30)
    assert made.status_code == 201, made.text
    run = made.json()
    assert run["tickets"] == 2 and run["hours"] == "3.50" and run["requested_by"] == "api:finance"
    listed = httpx.get(f"{url}/api/billing/runs", headers=FINANCE, timeout=10).json()
    assert [r["id"] for r in listed] == [run["id"]]
    document = httpx.get(f"{url}{made.headers['location']}", params={"format": "json"}, headers=FINANCE, timeout=10)
    assert document.headers["content-type"].startswith("application/json")
    body = json.loads(document.content)
    assert body["run"] == run["id"] and body["totals"]["rows"] == 2
    unknown = httpx.get(f"{url}/api/billing/runs/99", headers=FINANCE, timeout=10)
    assert unknown.status_code == 422 and "no final billing run 99" in unknown.json()["detail"]
    # billed: a second final run of the same month bills nothing
    second = httpx.post(f"{url}/api/billing/runs", params={"month": "2026-10"}, headers=FINANCE, timeout=30).json()
    assert second["tickets"] == 0


def test_xlsx_is_not_written_to_a_terminal(tmp_path):
    bridge = Bridge(tmp_path, None)
    terminal, screen = pty.openpty()
    try:
        shown = subprocess.run([str(BRIDGE), "export", "billing", "--month", "2026-10", "--format", "xlsx"],
                               stdout=screen, stderr=subprocess.PIPE, env=bridge.env, cwd=tmp_path, timeout=60)
    finally:
        os.close(screen)
        os.close(terminal)
    assert shown.returncode == 2 and "-o FILE.xlsx" in shown.stderr.decode()

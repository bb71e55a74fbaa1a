"""The billing service between the tracker, the pure selection and the ledger: which tickets
it asks for, what a final run records, and what it bills the next time."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from bridge.billing.export import Billing, Layout
from bridge.billing.model import Period
from bridge.trackers.base import TrackerRejected, TrackerUnavailable
from tests.billing.fakes import NOVEMBER, OCTOBER, PRAGUE, Jira, at, ledger, logged, service, sheet  # noqa: F401

async def preview(billing: Billing, period: Period) -> list[dict]:
    out = io.BytesIO()
    await billing.preview(period, Layout("json", "worklog"), out)
    return json.loads(out.getvalue())["rows"]


async def test_a_preview_records_nothing_and_a_final_run_bills_each_worklog_once(ledger):
    jira = Jira(sheet("SRV-1", at(20), logged("1", 3600), logged("2", 1800)))
    billing = service(jira, ledger)
    assert len(await preview(billing, OCTOBER)) == 2
    assert ledger.runs() == []
    run = await billing.record(OCTOBER, "finance")
    assert (run.tickets, run.seconds) == (1, 5400)
    assert await preview(billing, OCTOBER) == [] and await preview(billing, NOVEMBER) == []


async def test_it_reads_tickets_updated_since_the_period_began_or_the_day_before_the_last_run(ledger):
    jira = Jira(sheet("SRV-1", at(20), logged("1", 3600)))
    billing = service(jira, ledger)
    await preview(billing, OCTOBER)
    (first,) = jira.searches
    assert first.updated_since == OCTOBER.starts
    assert list(first.statuses) == ["Hotovo"] and list(first.issue_types) == ["Servis"] and first.with_history
    run = await billing.record(OCTOBER, "finance")
    today = datetime.now(PRAGUE).date()  # a period begun after the run: read from the run back
    await preview(billing, Period(today, today + timedelta(days=30), PRAGUE))
    assert jira.searches[-1].updated_since == run.created_at - timedelta(days=1)


async def test_a_ticket_moved_to_another_key_is_not_billed_again(ledger):
    jira = Jira(sheet("SRV-1", at(20), logged("1", 3600)))
    billing = service(jira, ledger)
    await billing.record(OCTOBER, "finance")
    moved = replace(jira.tickets.pop("SRV-1"), key="NEW-7", worklogs=(logged("1", 3600), logged("9", 900, 3)))
    jira.tickets["NEW-7"] = moved
    rows = await preview(billing, NOVEMBER)
    assert [(r["ticket"], r["kind"], r["worklog_id"]) for r in rows] == [("NEW-7", "late", "9")]
    run = await billing.record(NOVEMBER, "finance")
    assert run.seconds == 900


async def test_a_ticket_reopened_when_its_month_was_billed_is_billed_late_when_done_again(ledger):
    reopened = sheet("SRV-2", at(20), logged("5", 7200), status="Realizace")
    jira = Jira(sheet("SRV-1", at(21), logged("1", 600)), reopened)
    billing = service(jira, ledger)
    october = await billing.record(OCTOBER, "finance")
    assert october.tickets == 1
    jira.tickets["SRV-2"] = replace(reopened, status="Hotovo")
    rows = await preview(billing, NOVEMBER)
    assert [(r["ticket"], r["kind"], r["seconds"]) for r in rows] == [("SRV-2", "late", 7200)]


async def test_auto_approval_is_read_from_the_bridge_having_made_the_move(ledger):
    rows = await preview(service(Jira(sheet("SRV-1", at(20), logged("1", 600))), ledger), OCTOBER)
    assert rows[0]["approval"] == "auto"


async def test_a_refused_search_is_passed_over_in_a_preview_and_fails_a_final_run(ledger):
    jira = Jira(sheet("SRV-1", at(20), logged("1", 600)))
    jira.refuse = TrackerRejected("400 The value 'Hotovo' does not exist for the field 'status'.", status=400)
    warnings: list[str] = []
    billing = service(jira, ledger, warnings)
    assert await preview(billing, OCTOBER) == []
    assert warnings and "passed over workflow service-sheet" in warnings[0]
    with pytest.raises(TrackerRejected):
        await billing.record(OCTOBER, "finance")
    assert ledger.runs() == []


async def test_a_tracker_failing_half_way_records_no_run(ledger):
    jira = Jira(*(sheet(f"SRV-{n}", at(20), logged(str(n), 600)) for n in range(1, 250)))
    jira.fail_after = 180  # past the first page checked against the ledger
    billing = service(jira, ledger)
    with pytest.raises(TrackerUnavailable):
        await billing.record(OCTOBER, "finance")
    assert ledger.runs() == []
    jira.fail_after = None
    assert (await billing.record(OCTOBER, "finance")).tickets == 249

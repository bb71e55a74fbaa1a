"""The timer sweep and reconcile against a faked Jira (respx) and a real database: what they
queue, how many calls they make, and what a failure half-way leaves for the next run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import respx

from bridge.jobs.reconcile import sweep_reconcile
from bridge.jobs.runner import exclusive
from bridge.jobs.timers import sweep_timers
from bridge.store import JobRecords, Store, create_db_engine, migrate
from bridge.trackers.base import TrackerUnavailable
from bridge.workflows import load_dir
from tests.databases import database_url
from tests.trackers.test_jira_search import AGENT, CLOUD_SEARCH, CUSTOMER, change, issue, tracker

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = load_dir(ROOT / "workflows")
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def jira_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@pytest.fixture
def jobs(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'bridge.db'}")
    migrate(engine)
    yield JobRecords(engine)
    engine.dispose()


def approval(key: str, entered: datetime) -> dict:
    return issue(key, status="Ke schválení",
                 histories=[change(int(key.split("-")[1]) * 10, jira_time(entered), "Ke schválení", "Realizace")])


@respx.mock
async def test_the_timer_sweep_queues_what_is_due_once_in_one_call_a_page(jobs):
    page = {"issues": [approval("SRV-1", NOW - timedelta(days=6)), approval("SRV-2", NOW - timedelta(days=1))]}
    search = respx.get(CLOUD_SEARCH).respond(json=page)
    sheet = [wf for wf in WORKFLOWS if wf.name == "service-sheet"]
    first = await sweep_timers(tracker(), jobs, type(WORKFLOWS)(sheet), "Europe/Prague", NOW)
    assert (first.seen, [r.found.ticket.key for r in first.queued], first.already) == (2, ["SRV-1"], [])
    assert search.call_count == 1  # the histories came with the search: no read per ticket
    assert 'status in ("Ke schválení")' in search.calls[0].request.url.params["jql"]
    again = await sweep_timers(tracker(), jobs, type(WORKFLOWS)(sheet), "Europe/Prague", NOW)
    assert again.queued == [] and [r.found.ticket.key for r in again.already] == ["SRV-1"]
    (queued,) = Store(jobs.engine).list_deliveries(include_body=True)
    assert queued["delivery_key"].startswith("timer:SRV-1:") and queued["delivery_key"].endswith(":expire")


@respx.mock
async def test_reconcile_queues_unjudged_changes_and_moves_on_only_when_it_completes(jobs):
    moved = NOW - timedelta(hours=2)
    first_page = {"issues": [issue("SRV-7", updated=jira_time(moved), status="Hotovo", histories=[
        change(71, jira_time(moved), "Hotovo", "Na klientovi", by=CUSTOMER),
        change(70, jira_time(NOW - timedelta(days=3)), "Na klientovi", "Realizace", by=AGENT),
    ])], "nextPageToken": "p2"}
    respx.get(f"https://jira.test/rest/api/3/myself").respond(json={"accountId": "bot-1"})
    search = respx.get(CLOUD_SEARCH)
    search.side_effect = [httpx.Response(200, json=first_page)] + [httpx.Response(503)] * 3
    sheet = type(WORKFLOWS)([wf for wf in WORKFLOWS if wf.name == "service-sheet"])
    with pytest.raises(TrackerUnavailable):  # page 2 fails: the sweep ends with the error
        await sweep_reconcile(tracker(), jobs, sheet, NOW, timedelta(days=1))
    assert jobs.cursor("reconcile", "jira") is None  # the next run covers the same time

    search.side_effect = [httpx.Response(200, json={"issues": first_page["issues"]})]
    done = await sweep_reconcile(tracker(), jobs, sheet, NOW, timedelta(days=1))
    assert [(f.ticket.key, c.id) for f, c in done.missed] == [("SRV-7", "71")]  # older than a day: not
    assert done.queued == 1 and jobs.cursor("reconcile", "jira") == NOW
    (queued,) = Store(jobs.engine).list_deliveries(include_body=True)
    assert queued["delivery_key"] == "reconcile:SRV-7:71" and '"accountType":"customer"' in queued["body"]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_one_process_at_a_time_runs_a_job(kind, tmp_path):
    with database_url(kind, tmp_path) as url:
        engine = create_db_engine(url)
        other = create_db_engine(url)
        try:
            with exclusive(engine, "timers") as first:
                with exclusive(other, "timers") as second, exclusive(other, "reconcile") as third:
                    assert first and third
                    assert second is (kind == "sqlite")  # one process on SQLite: no lock needed
            with exclusive(other, "timers") as later:
                assert later
        finally:
            engine.dispose()
            other.dispose()

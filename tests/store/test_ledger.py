"""The billing ledger on real databases: SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bridge.billing.model import Approval, Bill, Line, LineKind, Period
from bridge.store import Ledger, LedgerConflict, create_db_engine, migrate
from tests.databases import database_url

PRAGUE = ZoneInfo("Europe/Prague")
JANUARY = Period(date(2025, 1, 1), date(2025, 1, 31), PRAGUE)
MID_JANUARY_ON = Period(date(2025, 1, 15), date(2025, 2, 15), PRAGUE)
FEBRUARY = Period(date(2025, 2, 1), date(2025, 2, 28), PRAGUE)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path):
    with database_url(request.param, tmp_path) as url:
        engine = create_db_engine(url)
        migrate(engine)
        yield Ledger(engine)
        engine.dispose()


def work(worklog: str, seconds: int, kind: LineKind = LineKind.WORK, **kw) -> Line:
    started = kw.pop("started", datetime(2025, 1, 10, 9, 30, tzinfo=PRAGUE))
    return Line(kind, seconds, worklog, kw.pop("author", "Jana Nováková"), started, **kw)


def rounding(seconds: int) -> Line:
    return Line(LineKind.ROUNDING, seconds)


def bill(ticket: str, *lines: Line, **kw) -> Bill:
    fields = dict(
        summary=f"Printer on floor {ticket}", issue_type="Service Request",
        organization="ACME s.r.o.", reporter="jana@acme.cz",
        done_at=datetime(2025, 1, 20, 16, 5, tzinfo=PRAGUE), approval=Approval.MANUAL,
        workflow="support",
    )
    return Bill(ticket=ticket, lines=lines, **(fields | kw))


def test_billed_gives_the_seconds_each_worklog_was_billed(ledger):
    ledger.record("jira", JANUARY, "finance@acme.cz", [
        bill("SRV-1", work("101", 3600), work("102", 1800)),
        bill("SRV-2", work("201", 900)),
    ])
    assert ledger.billed("jira", ["SRV-1", "SRV-2", "SRV-3"]) == {
        "SRV-1": {"101": 3600, "102": 1800},
        "SRV-2": {"201": 900},
    }
    assert ledger.billed("redmine", ["SRV-1"]) == {}  # another tracker's tickets are its own


def test_rounding_is_billed_but_no_worklog_s(ledger):
    run = ledger.record("jira", JANUARY, "finance", [bill("SRV-1", work("101", 3000), rounding(600))])
    assert ledger.billed("jira", ["SRV-1"]) == {"SRV-1": {"101": 3000}}
    assert run.seconds == 3600 and run.tickets == 1


def test_adjustments_net_out_against_what_was_billed(ledger):
    ledger.record("jira", JANUARY, "finance", [bill("SRV-1", work("101", 7200), work("102", 600))])
    ledger.record("jira", FEBRUARY, "finance", [bill(
        "SRV-1",
        work("101", -1800, LineKind.ADJUSTMENT, reason="hours changed from 2.00 to 1.50"),
        work("102", -600, LineKind.ADJUSTMENT, reason="worklog deleted"),
        work("103", 900, LineKind.LATE),
    )])
    assert ledger.billed("jira", ["SRV-1"]) == {"SRV-1": {"101": 5400, "102": 0, "103": 900}}


def test_a_ticket_billed_without_worklogs_is_known_as_billed(ledger):
    ledger.record("jira", JANUARY, "finance", [bill("SRV-1", rounding(900)), bill("SRV-2")])
    assert ledger.billed("jira", ["SRV-1", "SRV-2", "SRV-3"]) == {"SRV-1": {}, "SRV-2": {}}


def test_a_run_reads_back_exactly_as_it_was_recorded(ledger):
    bills = [
        bill(
            "SRV-1",
            work("101", 5400, started=datetime(2025, 1, 3, 23, 59, 59, 999999, tzinfo=PRAGUE),
                 comment="Příliš žluťoučký kůň úpěl ďábelské ódy"),
            work("102", 60, LineKind.LATE, author="Paweł Żółć",
                 started=datetime(2025, 1, 4, 7, 0, tzinfo=timezone(timedelta(hours=-5))),
                 comment="Zażółć gęślą jaźń"),
            work("090", -1800, LineKind.ADJUSTMENT, reason="hours changed from 1.50 to 1.00"),
            rounding(540),
        ),
        bill("SRV-2", summary="Tiskárna nefunguje", organization="Łódź sp. z o.o., ACME",
             done_at=datetime(2025, 1, 31, 23, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
             approval=Approval.NONE, workflow=""),
        bill("SRV-0", work("001", 60), approval=Approval.AUTO),
    ]
    run = ledger.record("jira", JANUARY, "účetní@acme.cz", bills)
    again = list(ledger.bills(run.id))
    assert again == bills
    times = [(b.done_at.isoformat(), [l.started and l.started.isoformat() for l in b.lines]) for b in again]
    assert times == [(b.done_at.isoformat(), [l.started and l.started.isoformat() for l in b.lines]) for b in bills]
    assert list(ledger.bills(run.id)) == bills  # and again, at any time
    assert ledger.run(run.id) == run and run.period.zone == PRAGUE and run.requested_by == "účetní@acme.cz"
    assert list(ledger.bills(run.id + 1)) == []


def test_texts_are_stored_without_nul_and_within_their_columns(ledger):
    run = ledger.record("jira", JANUARY, "finance", [
        bill("SRV-1", work("101", 60, comment="a\x00b"), summary="S" * 300 + "\x00"),
    ])
    (stored,) = ledger.bills(run.id)
    assert stored.summary == "S" * 255 and stored.lines[0].comment == "ab"


def test_a_failing_export_records_nothing(ledger):
    def bills() -> Iterator[Bill]:
        for n in range(600):
            yield bill(f"SRV-{n}", work(str(n), 60))
        raise RuntimeError("Jira went away")

    with pytest.raises(RuntimeError, match="Jira went away"):
        ledger.record("jira", JANUARY, "finance", bills())
    assert ledger.runs() == [] and ledger.billed("jira", ["SRV-0", "SRV-599"]) == {}
    assert ledger.last_run_at("jira") is None


def test_a_worklog_billed_before_fails_the_whole_run(ledger):
    first = ledger.record("jira", JANUARY, "finance", [bill("SRV-1", work("101", 3600))])
    later = [bill(f"SRV-{n}", work(str(1000 + n), 60)) for n in range(2, 800)]  # past one chunk
    later.append(bill("SRV-1", work("101", 3600, LineKind.LATE)))
    with pytest.raises(LedgerConflict) as raised:
        ledger.record("jira", FEBRUARY, "finance", later)
    assert raised.value.billed == {"101": first.id}
    assert ledger.runs() == [first]
    assert ledger.billed("jira", ["SRV-2", "SRV-799"]) == {}
    assert ledger.billed("jira", ["SRV-1"]) == {"SRV-1": {"101": 3600}}


def test_a_worklog_billed_twice_in_one_run_fails_it(ledger):
    with pytest.raises(LedgerConflict) as raised:
        ledger.record("jira", JANUARY, "finance", [bill("SRV-1", work("101", 60), work("101", 60))])
    assert raised.value.billed == {"101": None}
    far_apart = [bill("SRV-1", work("101", 60))] + [bill(f"SRV-{n}", work(str(n), 60)) for n in range(2, 600)]
    with pytest.raises(LedgerConflict):
        ledger.record("jira", JANUARY, "finance", far_apart + [bill("SRV-9", work("101", 60, LineKind.LATE))])
    assert ledger.runs() == []


def test_overlapping_periods_bill_each_worklog_once(ledger):
    january = ledger.record("jira", JANUARY, "finance", [
        bill("SRV-1", work("101", 3600)), bill("SRV-2", work("201", 600)),
    ])
    overlapping = ledger.record("jira", MID_JANUARY_ON, "finance", [
        bill("SRV-1", work("102", 1200, LineKind.LATE)), bill("SRV-3", work("301", 60)),
    ])
    assert ledger.billed("jira", ["SRV-1", "SRV-2", "SRV-3"]) == {
        "SRV-1": {"101": 3600, "102": 1200}, "SRV-2": {"201": 600}, "SRV-3": {"301": 60},
    }
    assert [b.ticket for b in ledger.bills(january.id)] == ["SRV-1", "SRV-2"]
    assert [b.lines for b in ledger.bills(overlapping.id)][0] == (work("102", 1200, LineKind.LATE),)
    with pytest.raises(LedgerConflict):
        ledger.record("jira", MID_JANUARY_ON, "finance", [bill("SRV-2", work("201", 600))])


def test_runs_newest_first_per_tracker(ledger):
    assert ledger.runs() == [] and ledger.run(1) is None and ledger.last_run_at("jira") is None
    before = datetime.now(UTC)
    first = ledger.record("jira", JANUARY, "finance", [])
    other = ledger.record("redmine", JANUARY, "finance", [bill("7", work("7", 60))])
    second = ledger.record("jira", FEBRUARY, "controller", [bill("SRV-1", work("101", 60))])
    assert ledger.runs() == [second, other, first]
    assert ledger.runs("jira") == [second, first]
    assert (first.tickets, first.seconds, second.tickets, second.seconds) == (0, 0, 1, 60)
    assert ledger.last_run_at("jira") == second.created_at
    assert before <= first.created_at <= second.created_at <= datetime.now(UTC)
    assert second.created_at.tzinfo is not None


def test_two_exports_at_once_never_bill_one_worklog_twice(ledger):
    both = [bill(f"SRV-{n}", work(str(n), 60)) for n in range(1500)]
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def export(requested_by: str) -> None:
        start.wait()
        try:
            outcomes.append(ledger.record("jira", JANUARY, requested_by, iter(both)))
        except LedgerConflict as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=export, args=(who,)) for who in ("anna", "petr")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(type(o).__name__ for o in outcomes) == ["BillingRun", "LedgerConflict"]
    assert len(ledger.runs()) == 1
    assert ledger.billed("jira", ["SRV-0", "SRV-1499"]) == {"SRV-0": {"0": 60}, "SRV-1499": {"1499": 60}}


def test_a_large_run_is_written_and_read_without_holding_it_in_memory(ledger):
    def bills(first_worklog: int, count: int = 1000) -> Iterator[Bill]:
        for n in range(count):
            yield bill(f"SRV-{first_worklog + n}", *(
                work(str(first_worklog * 100 + n * 20 + i), 60 + i, comment=f"call with the customer {n}/{i}")
                for i in range(20)
            ))

    ledger.record("jira", JANUARY, "finance", bills(0, 10))  # statements compiled, caches warm
    tracemalloc.start()
    try:
        held = list(bills(100_000))
        all_at_once = tracemalloc.get_traced_memory()[0]
        del held
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        run = ledger.record("jira", FEBRUARY, "finance", bills(200_000))
        writing = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        lines = sum(len(b.lines) for b in ledger.bills(run.id))
        reading = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert lines == 20_000
    assert writing < all_at_once / 2, (writing, all_at_once)
    assert reading < all_at_once / 2, (reading, all_at_once)


def test_finding_worklogs_billed_before_seeks_them_by_id(tmp_path):
    """A final run checks each chunk of its worklogs against all billed before: by their
    ids, not by reading every line the tracker ever billed (which grows month by month)."""
    from sqlalchemy import event

    from bridge.store.ledger import _BILLED_BEFORE, _BILLED_WORKLOGS

    engine = create_db_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    migrate(engine)
    plans: list[str] = []

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def explain(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        plans.extend(row[3] for row in cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters))
        return statement, parameters

    with engine.connect() as conn:
        for query in (_BILLED_BEFORE, _BILLED_WORKLOGS):
            conn.execute(query, {"tracker": "jira", "worklogs": ["1", "2"]})
    engine.dispose()
    assert len(plans) == 2 and all("worklog_id=?" in plan for plan in plans), plans

"""Which work a ticket bills in a period: the rules finance relies on, on the shipped
service-sheet and Targito workflows (Czech and English status names)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.billing import Approval, Bill, LineKind, Period
from bridge.billing.select import approval, approver, bill, first_billable
from bridge.engine.model import Actor, Role, StatusChange, WorkedTicket, Worklog
from bridge.workflows import Workflow, load_file
from bridge.workflows.billing import Billing

SHIPPED = Path(__file__).resolve().parents[2] / "workflows"
SERVICE = load_file(SHIPPED / "service-sheet.yaml")
TARGITO = load_file(SHIPPED / "targito-support.yaml")
PRAGUE = ZoneInfo("Europe/Prague")
OCTOBER = Period(date(2026, 10, 1), date(2026, 10, 31), PRAGUE)
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30), PRAGUE)
SEPTEMBER = Period(date(2026, 9, 1), date(2026, 9, 30), PRAGUE)
AGENT = Actor("agent-1", "Petr", Role.AGENT)
CUSTOMER = Actor("cust-1", "Klára", Role.CUSTOMER)
BRIDGE = Actor("bridge-bot", "ticket-bridge")


def prague(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=PRAGUE)  # type: ignore[misc]


def move(when: datetime, to: str, actor: Actor = AGENT, frm: str | None = None) -> StatusChange:
    return StatusChange(f"h-{when.timestamp():.0f}-{to}", when, actor, frm, to)


def work(wid: str, seconds: int, started: datetime | None = None, author: str = "Petr") -> Worklog:
    return Worklog(wid, author, started or prague(2026, 10, 5, 9), seconds, f"work {wid}")


def ticket(
    *history: StatusChange, worklogs: tuple[Worklog, ...] = (), status: str = ""
) -> WorkedTicket:
    return WorkedTicket(
        key="SERVIS-7", summary="Export faktur", issue_type="Servis", organization="ACME s.r.o.",
        reporter="klara@acme.cz", status=status or history[-1].to_status, history=history,
        worklogs=worklogs,
    )  # fmt: skip


def done_on(when: datetime, *worklogs: Worklog) -> WorkedTicket:
    """A service sheet approved by the customer and done at `when`."""
    return ticket(
        move(when - timedelta(days=3), "Realizace"),
        move(when - timedelta(days=1), "Schváleno", CUSTOMER, "Ke schválení"),
        move(when, "Hotovo", AGENT, "Schváleno"),
        worklogs=worklogs,
    )


def rounded(workflow: Workflow, step: str) -> Workflow:
    assert workflow.billing is not None
    billing = Billing(**{**workflow.billing.model_dump(), "rounding": step})
    return workflow.model_copy(update={"billing": billing})


def run(
    t: WorkedTicket,
    billed: dict[str, int] | None = None,
    workflow: Workflow = SERVICE,
    period: Period = OCTOBER,
) -> Bill | None:
    """The ticket's bill in a final run (approval is the caller's and passed through)."""
    return bill(t, workflow, period, billed, Approval.NONE)


def kinds_and_seconds(found: Bill | None) -> list[tuple[str, int, str | None]]:
    assert found is not None, "nothing billed"
    return [(line.kind.value, line.seconds, line.worklog_id) for line in found.lines]


# -- a ticket done in the period ----------------------------------------------------------------
def test_a_ticket_done_in_the_period_bills_all_its_work_whenever_logged() -> None:
    logs = (
        work("12", 3600, prague(2026, 10, 20, 14)),
        work("9", 1800, prague(2026, 8, 3, 10)),  # long before the period
        work("30", 600, prague(2026, 10, 20, 14)),  # started with 12: ordered by id as a number
    )
    t = done_on(prague(2026, 10, 21, 16), *logs)
    found = bill(t, SERVICE, OCTOBER, None, Approval.MANUAL)
    assert kinds_and_seconds(found) == [
        ("work", 1800, "9"), ("work", 3600, "12"), ("work", 600, "30"),
    ]  # fmt: skip
    assert found is not None
    assert (found.ticket, found.summary, found.issue_type) == (
        "SERVIS-7", "Export faktur", "Servis",
    )  # fmt: skip
    assert (found.organization, found.reporter) == ("ACME s.r.o.", "klara@acme.cz")
    assert found.done_at == prague(2026, 10, 21, 16) and found.workflow == "service-sheet"
    assert found.approval is Approval.MANUAL and found.seconds == 6000
    assert found.lines[0].author == "Petr" and found.lines[0].comment == "work 9"


def test_a_done_ticket_without_worklogs_is_billed_with_no_hours() -> None:
    found = bill(done_on(prague(2026, 10, 21, 16)), SERVICE, OCTOBER, None, Approval.AUTO)
    assert found is not None and found.lines == () and found.seconds == 0
    assert found.approval is Approval.AUTO


def test_status_names_are_matched_whatever_their_case() -> None:
    t = ticket(move(prague(2026, 10, 2, 9), "HOTOVO"), worklogs=(work("1", 900),), status="hotovo")
    assert kinds_and_seconds(run(t)) == [("work", 900, "1")]


def test_a_workflow_that_bills_nothing_bills_nothing() -> None:
    quiet = SERVICE.model_copy(update={"billing": None})
    assert run(done_on(prague(2026, 10, 21, 16), work("1", 900)), workflow=quiet) is None


# -- periods --------------------------------------------------------------------------------
@pytest.mark.parametrize("when,period", [
    (prague(2026, 10, 31, 23, 59, 59), OCTOBER),
    (prague(2026, 11, 1, 0, 0, 0), NOVEMBER),
    (prague(2026, 10, 1, 0, 0, 0), OCTOBER),
    (prague(2026, 9, 30, 23, 59, 59), SEPTEMBER),
])  # fmt: skip
def test_a_ticket_belongs_to_the_period_of_the_prague_day_it_was_done(
    when: datetime, period: Period
) -> None:
    t = done_on(when.astimezone(UTC), work("1", 900))  # trackers give UTC; days are Prague's
    for candidate in (SEPTEMBER, OCTOBER, NOVEMBER):
        assert (run(t, period=candidate) is not None) == (candidate == period), candidate


def test_a_week_that_ends_as_the_clocks_go_back_ends_at_its_own_midnight() -> None:
    week = Period(date(2026, 10, 19), date(2026, 10, 25), PRAGUE)  # Sunday 25th: 03:00 → 02:00
    late_sunday = datetime(2026, 10, 25, 22, 30, tzinfo=UTC)  # 23:30 in Prague, winter time
    monday = datetime(2026, 10, 25, 23, 0, tzinfo=UTC)  # 00:00 on Monday in Prague
    assert run(done_on(late_sunday, work("1", 900)), period=week)
    assert run(done_on(monday, work("1", 900)), period=week) is None


def test_a_ticket_done_in_an_earlier_period_and_never_billed_is_left_to_that_period() -> None:
    t = done_on(prague(2026, 9, 29, 10), work("1", 900, prague(2026, 10, 2, 9)))
    assert run(t) is None


def test_a_ticket_passed_over_by_its_own_periods_final_run_is_billed_late_in_a_later_one() -> None:
    t = reopened(work("1", 3600, prague(2026, 9, 20, 9)), work("2", 1800), done_again=True)
    found = bill(t, TARGITO, NOVEMBER, None, Approval.AGENT, passed_over=True)
    assert kinds_and_seconds(found) == [("late", 3600, "1"), ("late", 1800, "2")]
    assert found is not None and found.done_at == prague(2026, 9, 29, 11)
    assert bill(t, TARGITO, NOVEMBER, None, Approval.AGENT) is None


def test_a_ticket_done_after_the_period_is_not_billed_in_it_even_when_billed_since() -> None:
    t = done_on(prague(2026, 11, 3, 10), work("1", 900), work("2", 600))
    assert run(t) is None
    assert run(t, {"1": 900}) is None


# -- what is not billable now ----------------------------------------------------------------------
def test_a_cancelled_ticket_bills_nothing_however_much_work_is_logged() -> None:
    t = ticket(
        move(prague(2026, 10, 2, 9), "Realizace"),
        move(prague(2026, 10, 9, 9), "Zrušeno", AGENT, "Realizace"),
        worklogs=(work("1", 7200), work("2", 3600)),
    )
    assert first_billable(t, SERVICE) is None
    assert run(t) is None
    assert run(t, {"1": 7200}) is None


def test_a_ticket_in_a_billable_status_that_never_moved_there_is_not_billed() -> None:
    t = ticket(move(prague(2026, 10, 2, 9), "Realizace"), worklogs=(work("1", 900),))
    assert run(replace(t, status="Hotovo")) is None


def reopened(*worklogs: Worklog, done_again: bool) -> WorkedTicket:
    """A Targito ticket done in September, re-opened in October, perhaps done again."""
    history = [
        move(prague(2026, 9, 28, 10), "Waiting for approval"),
        move(prague(2026, 9, 29, 11), "Done", CUSTOMER, "Waiting for approval"),
        move(prague(2026, 10, 6, 9), "Re-open", CUSTOMER, "Done"),
        move(prague(2026, 10, 6, 10), "Waiting for support", AGENT, "Re-open"),
    ]
    if done_again:
        history.append(move(prague(2026, 10, 14, 12), "Done", AGENT, "Waiting for support"))
    return ticket(*history, worklogs=worklogs)


def test_a_reopened_ticket_is_not_billed_until_done_again() -> None:
    t = reopened(work("1", 3600, prague(2026, 9, 20, 9)), work("2", 1800), done_again=False)
    assert run(t, {"1": 3600}, TARGITO) is None


def test_done_twice_counts_from_the_first_time_and_bills_only_the_new_work() -> None:
    t = reopened(work("1", 3600, prague(2026, 9, 20, 9)), work("2", 1800), done_again=True)
    first = first_billable(t, TARGITO)
    assert first is not None and first.at == prague(2026, 9, 29, 11)
    found = bill(t, TARGITO, OCTOBER, {"1": 3600}, Approval.MANUAL)
    assert kinds_and_seconds(found) == [("late", 1800, "2")]
    assert found is not None and found.done_at == prague(2026, 9, 29, 11)
    # never billed: it belongs to September, and October does not take it
    assert bill(t, TARGITO, OCTOBER, None, Approval.MANUAL) is None
    assert kinds_and_seconds(bill(t, TARGITO, SEPTEMBER, None, Approval.MANUAL)) == [
        ("work", 3600, "1"), ("work", 1800, "2"),
    ]  # fmt: skip


# -- billed before: late work and adjustments -------------------------------------------------
SEPT_DONE = prague(2026, 9, 25, 15)


def test_work_logged_after_the_ticket_was_billed_is_late() -> None:
    t = done_on(SEPT_DONE, work("1", 7200, prague(2026, 9, 24)), work("2", 900))
    found = run(t, {"1": 7200})
    assert kinds_and_seconds(found) == [("late", 900, "2")]
    assert found is not None and found.kinds == "late"


def test_a_ticket_billed_once_without_worklogs_bills_its_first_worklog_as_late() -> None:
    assert kinds_and_seconds(run(done_on(SEPT_DONE, work("1", 900)), {})) == [("late", 900, "1")]


def test_nothing_new_on_a_billed_ticket_bills_nothing() -> None:
    t = done_on(SEPT_DONE, work("1", 7200), work("2", 900))
    assert run(t, {"1": 7200, "2": 900}) is None
    assert run(done_on(SEPT_DONE), {}) is None


def test_a_worklog_of_no_time_logged_after_billing_bills_nothing() -> None:
    assert run(done_on(SEPT_DONE, work("1", 900), work("2", 0)), {"1": 900}) is None


def test_changed_and_deleted_worklogs_are_adjusted_with_the_reason() -> None:
    t = done_on(SEPT_DONE, work("1", 5400, prague(2026, 9, 24)), work("4", 600))
    found = run(t, {"1": 7200, "2": 3600, "3": 0})  # 3: deleted, but nothing was billed on it
    assert found is not None
    assert [(l.kind, l.seconds, l.worklog_id, l.reason) for l in found.lines] == [
        (LineKind.LATE, 600, "4", ""),
        (LineKind.ADJUSTMENT, -1800, "1", "hours changed from 2.00 to 1.50"),
        (LineKind.ADJUSTMENT, -3600, "2", "worklog deleted (1.00 h billed)"),
    ]
    assert found.seconds == -4800 and found.kinds == "late+adjustment"


def test_a_worklog_raised_after_billing_bills_the_difference() -> None:
    t = done_on(SEPT_DONE, work("1", 9000, prague(2026, 9, 24)))
    found = run(t, {"1": 7200})
    assert found is not None and found.lines[0].reason == "hours changed from 2.00 to 2.50"
    assert kinds_and_seconds(found) == [("adjustment", 1800, "1")]


# -- rounding ---------------------------------------------------------------------------------
QUARTER = rounded(SERVICE, "15 minutes")


def test_a_total_is_rounded_up_to_the_step_on_a_line_of_its_own() -> None:
    found = run(done_on(prague(2026, 10, 9, 9), work("1", 420)), workflow=QUARTER)
    assert kinds_and_seconds(found) == [("work", 420, "1"), ("rounding", 480, None)]
    assert found is not None and found.seconds == 900 and found.kinds == "work"


def test_a_total_already_on_the_step_is_not_rounded() -> None:
    t = done_on(prague(2026, 10, 9, 9), work("1", 600), work("2", 300))
    assert kinds_and_seconds(run(t, workflow=QUARTER)) == [
        ("work", 600, "1"), ("work", 300, "2"),
    ]  # fmt: skip


def test_a_total_that_takes_hours_back_or_bills_none_is_not_rounded() -> None:
    taken_back = run(done_on(SEPT_DONE, work("1", 3000)), {"1": 3600}, QUARTER)
    assert kinds_and_seconds(taken_back) == [("adjustment", -600, "1")]
    nothing = run(done_on(prague(2026, 10, 9, 9)), workflow=QUARTER)
    assert nothing is not None and nothing.lines == ()


def test_late_work_is_rounded_on_its_own_export() -> None:
    t = done_on(SEPT_DONE, work("1", 420, prague(2026, 9, 24)), work("2", 420, prague(2026, 10, 2)))
    found = run(t, {"1": 420}, QUARTER)
    assert kinds_and_seconds(found) == [("late", 420, "2"), ("rounding", 480, None)]


def test_rounding_to_an_hour() -> None:
    t = done_on(prague(2026, 10, 9, 9), work("1", 3660))
    found = run(t, workflow=rounded(SERVICE, "1 hour"))
    assert found is not None and found.seconds == 7200


# -- approval ---------------------------------------------------------------------------------
def approved_by(actor: Actor) -> WorkedTicket:
    return ticket(
        move(prague(2026, 10, 1, 9), "Ke schválení"),
        move(prague(2026, 10, 6, 9), "Schváleno", actor, "Ke schválení"),
        move(prague(2026, 10, 6, 9), "Hotovo", actor, "Schváleno"),
    )


@pytest.mark.parametrize("actor,role,expected", [
    (CUSTOMER, Role.CUSTOMER, Approval.MANUAL),
    (BRIDGE, Role.UNKNOWN, Approval.AUTO),  # the bridge's own account, by its id
    (Actor("bridge-2", "ticket-bridge"), Role.BRIDGE, Approval.AUTO),  # by the role found
    (AGENT, Role.AGENT, Approval.AGENT),
    (AGENT, Role.UNKNOWN, Approval.AGENT),
])  # fmt: skip
def test_who_moved_the_ticket_to_approved_says_how_it_was_approved(
    actor: Actor, role: Role, expected: Approval
) -> None:
    t = approved_by(actor)
    done = first_billable(t, SERVICE)
    assert done is not None
    change = approver(t, SERVICE, done)
    assert change is not None and change.to_status == "Schváleno" and change.actor == actor
    assert approval(change, frozenset({"bridge-bot"}), role) is expected


def test_a_ticket_done_without_approval_has_none() -> None:
    t = ticket(move(prague(2026, 10, 1, 9), "Realizace"), move(prague(2026, 10, 2, 9), "Hotovo"))
    done = first_billable(t, SERVICE)
    assert done is not None and approver(t, SERVICE, done) is None
    assert approval(None, frozenset({"bridge-bot"}), Role.CUSTOMER) is Approval.NONE


def test_the_approval_is_the_last_one_before_the_ticket_was_first_done() -> None:
    t = reopened(done_again=True)
    t = ticket(
        move(prague(2026, 9, 20, 9), "Done", AGENT, "Waiting for approval"),
        *t.history,  # approved by the customer on the 29th, re-opened, done again in October
    )
    done = first_billable(t, TARGITO)
    assert done is not None and done.at == prague(2026, 9, 20, 9)
    change = approver(t, TARGITO, done)
    assert change is done and change.actor == AGENT  # the agent's move, not a later one

    approved_twice = ticket(
        move(prague(2026, 10, 1, 9), "Schváleno", AGENT, "Ke schválení"),
        move(prague(2026, 10, 2, 9), "Ke schválení", AGENT, "Schváleno"),
        move(prague(2026, 10, 7, 9), "Schváleno", BRIDGE, "Ke schválení"),
        move(prague(2026, 10, 7, 9), "Hotovo", BRIDGE, "Schváleno"),
    )
    done = first_billable(approved_twice, SERVICE)
    assert done is not None
    assert approver(approved_twice, SERVICE, done) == approved_twice.history[2]


def test_a_workflow_without_an_approval_status_has_no_approver() -> None:
    without = SERVICE.model_copy(update={"billing": Billing(billable=["done"])})
    t = done_on(SEPT_DONE)
    done = first_billable(t, without)
    assert done is not None and approver(t, without, done) is None
    assert approver(t, SERVICE, done) is not None


# -- successive final runs --------------------------------------------------------------------
Edit = tuple[str, int, int]  # (what, which worklog, seconds)
edits = st.lists(
    st.one_of(
        st.tuples(st.just("log"), st.just(0), st.integers(60, 36_000)),
        st.tuples(st.just("change"), st.integers(0, 20), st.integers(0, 36_000)),
        st.tuples(st.just("delete"), st.integers(0, 20), st.just(0)),
        st.tuples(st.just("run"), st.just(0), st.just(0)),
    ),
    max_size=40,
)


def month(index: int) -> Period:
    year, m = divmod(index, 12)
    first = date(2026 + year, m + 1, 1)
    following = date(2026 + (index + 1) // 12, (index + 1) % 12 + 1, 1)
    return Period(first, following - timedelta(days=1), PRAGUE)


@settings(max_examples=150, deadline=None)
@given(edits=edits, step=st.sampled_from([None, "15 minutes", "1 hour"]))
def test_successive_final_runs_bill_each_worklog_exactly_what_it_holds(
    edits: list[Edit], step: str | None
) -> None:
    workflow = rounded(SERVICE, step) if step else SERVICE
    done = prague(2026, 1, 15, 12)
    logs: dict[str, Worklog] = {}
    next_id = 100
    billed: dict[str, int] | None = None
    runs = 0

    def final_run() -> Bill | None:
        nonlocal billed, runs
        found = bill(done_on(done, *logs.values()), workflow, month(runs), billed, Approval.NONE)
        runs += 1
        if found is not None:
            billed = dict(billed or {})
            for line in found.lines:
                if line.worklog_id is not None:
                    billed[line.worklog_id] = billed.get(line.worklog_id, 0) + line.seconds
            step_seconds = workflow.billing.rounding_seconds if workflow.billing else None
            if step_seconds and found.seconds > 0:
                assert found.seconds % step_seconds == 0
        return found

    for what, which, seconds in edits:
        ids = sorted(logs)
        if what == "log":
            logs[str(next_id)] = work(str(next_id), seconds, done + timedelta(minutes=next_id))
            next_id += 1
        elif what == "change" and ids:
            wid = ids[which % len(ids)]
            logs[wid] = Worklog(wid, "Petr", logs[wid].started, seconds)
        elif what == "delete" and ids:
            del logs[ids[which % len(ids)]]
        elif what == "run":
            final_run()
    final_run()
    assert billed is not None, "the ticket was never billed"
    expected = {str(wid): 0 for wid in range(100, next_id)}
    expected |= {w.id: w.seconds for w in logs.values()}
    assert {wid: billed.get(wid, 0) for wid in expected} == expected
    assert set(billed) <= set(expected)
    assert final_run() is None, "a run with nothing new billed something again"

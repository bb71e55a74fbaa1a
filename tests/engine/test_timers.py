"""Timers on plain data with a fixed clock: the shipped Czech workflows, weekends, Czech
public holidays, the clocks changing."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bridge.engine import CommentAction, Ticket, Transition, TransitionAction, Verdict
from bridge.engine.timers import Stay, decide_timer, due
from bridge.workflows import load_file

ROOT = Path(__file__).resolve().parents[2]
SHEET = load_file(ROOT / "workflows" / "service-sheet.yaml")
TARGITO = load_file(ROOT / "workflows" / "targito-support.yaml")
CZ = SHEET.calendar.build("Europe/Prague")
APPROVE = Transition("71", "Schválit", "Schváleno")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CZ.zone)


def waiting(entered: str, status: str = "Ke schválení", *transitions: Transition, **kw) -> Stay:
    return Stay(Ticket("SRV-7", status, {}, transitions or (APPROVE,)), at(entered), **kw)


def with_timer(**timer: object):
    """The service sheet with its approval timer changed."""
    data = SHEET.model_dump(by_alias=True)
    data["timers"]["awaiting_approval"] |= timer
    return type(SHEET).model_validate(data)


def test_five_days_after_the_last_entry_the_ticket_is_approved_and_closed():
    d = decide_timer(waiting("2026-11-13 10:00"), SHEET, CZ, at("2026-11-18 10:00"))
    assert d.verdict is Verdict.EXPIRED and d.rule == "timer-expired"
    first, second, comment = d.actions
    assert first == TransitionAction("SRV-7", "71", "Schváleno", "Ke schválení")
    assert second == TransitionAction("SRV-7", None, "Hotovo", "Schváleno")  # found once there
    assert isinstance(comment, CommentAction) and comment.public
    assert "automaticky schválen" in comment.body and "18.11.2026 10:00" in comment.body
    assert "13.11.2026 10:00" in comment.body and "5 days" in d.reason


def test_a_minute_before_nothing_happens():
    d = decide_timer(waiting("2026-11-13 10:00"), SHEET, CZ, at("2026-11-18 09:59"))
    assert d.verdict is Verdict.IGNORED and d.actions == () and "18.11.2026 10:00" in d.reason


def test_the_clock_counts_from_the_last_entry():
    """Returned on the 16th, sent back for approval on the 17th: five days from the 17th."""
    stay = waiting("2026-11-17 14:00")
    assert decide_timer(stay, SHEET, CZ, at("2026-11-20 10:00")).verdict is Verdict.IGNORED
    assert due(stay, SHEET, CZ).deadline == at("2026-11-22 14:00")


def test_a_status_without_a_timer_is_left_alone():
    d = decide_timer(waiting("2026-01-01 10:00", "Vráceno klientem"), SHEET, CZ, at("2026-11-18 10:00"))
    assert d.verdict is Verdict.IGNORED and d.rule == "no-timer"


def test_a_path_that_cannot_be_taken_alerts_agents_internally():
    stay = waiting("2026-11-13 10:00", "Ke schválení", Transition("72", "Vrátit", "Vráceno klientem"))
    d = decide_timer(stay, SHEET, CZ, at("2026-11-19 08:00"))
    assert d.verdict is Verdict.NEEDS_ATTENTION
    (note,) = d.actions
    assert not note.public and "Schváleno" in note.body and "ručně" in note.body


@pytest.mark.parametrize("entered,expires", [
    ("2026-11-13 10:00", "2026-11-23 10:00"),  # over a weekend and 17 November
    ("2026-04-01 12:00", "2026-04-10 12:00"),  # over Good Friday and Easter Monday
    ("2026-11-14 09:00", "2026-11-24 00:00"),  # entered on a Saturday: counted from Monday
    ("2026-12-24 10:00", "2027-01-05 00:00"),  # entered on a holiday; New Year's Day off too
])
def test_business_days_skip_weekends_and_czech_holidays(entered, expires):
    sheet = with_timer(after="5 business days")
    assert due(waiting(entered), sheet, CZ).deadline == at(expires)
    assert decide_timer(waiting(entered), sheet, CZ, at(expires)).verdict is Verdict.EXPIRED


def test_five_days_across_the_clocks_going_back_keep_the_wall_clock_time():
    assert due(waiting("2026-10-22 10:00"), SHEET, CZ).deadline.isoformat() == "2026-10-27T10:00:00+01:00"


def test_a_reminder_is_sent_once_per_stay_and_only_the_latest():
    sheet = with_timer(reminders=[
        {"before": "2 days", "comment": "Zbývají {left} (do {deadline})."},
        {"before": "1 day", "comment": "Zbývá {left}."},
    ])
    stay = waiting("2026-11-13 10:00")
    assert decide_timer(stay, sheet, CZ, at("2026-11-16 09:00")).verdict is Verdict.IGNORED
    first = decide_timer(stay, sheet, CZ, at("2026-11-16 10:00"))
    assert first.verdict is Verdict.REMINDED and first.reminder == 0
    assert first.actions[0].body == "Zbývají 2 days (do 18.11.2026 10:00)."
    sent = waiting("2026-11-13 10:00", reminded=frozenset({0}))
    assert decide_timer(sent, sheet, CZ, at("2026-11-16 18:00")).verdict is Verdict.IGNORED
    # a sweep after a long pause sends the latest that fell due, not both
    late = decide_timer(stay, sheet, CZ, at("2026-11-17 12:00"))
    assert late.reminder == 1 and late.actions[0].body == "Zbývá 1 day."
    after_late = waiting("2026-11-13 10:00", reminded=frozenset({1}))
    assert decide_timer(after_late, sheet, CZ, at("2026-11-17 13:00")).verdict is Verdict.IGNORED


def test_a_timer_without_a_path_only_speaks_once():
    stay = Stay(Ticket("TGS-1", "Waiting for customer", {}, ()), at("2026-11-13 10:00"))
    calendar = TARGITO.calendar.build("Europe/Prague")
    assert decide_timer(stay, TARGITO, calendar, at("2026-11-18 23:59")).verdict is Verdict.IGNORED
    d = decide_timer(stay, TARGITO, calendar, at("2026-11-19 10:00"))  # Mon, Wed, Thu (17th off)
    assert d.verdict is Verdict.REMINDED and d.actions[0].public and "TGS-1" in d.actions[0].body
    again = Stay(stay.ticket, stay.entered, frozenset({d.reminder}))
    assert decide_timer(again, TARGITO, calendar, at("2026-11-30 10:00")).verdict is Verdict.IGNORED

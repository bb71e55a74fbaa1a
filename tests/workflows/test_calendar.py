"""Working time in a Czech calendar: weekends, public holidays, the clocks changing."""

from __future__ import annotations

from datetime import datetime

import pytest

from bridge.workflows.calendar import Calendar, Duration, day_numbers

PRAGUE = "Europe/Prague"
CZ = Calendar(PRAGUE, country="CZ")


def at(text: str) -> datetime:
    """A Prague wall-clock time, e.g. '2026-11-13 10:00'."""
    return datetime.fromisoformat(text).replace(tzinfo=CZ.zone)


def shown(moment: datetime) -> str:
    return moment.astimezone(CZ.zone).strftime("%Y-%m-%d %H:%M %Z")


@pytest.mark.parametrize("text,span_hours,business", [
    ("5 days", 120, False), ("5 business days", 120, True), ("36 hours", 36, False),
    ("1 day", 24, False), ("90 minutes", 1.5, False), ("2 weeks", 336, False),
    ("36 business hours", 36, True), ("  3 Working Days ", 72, True),
])
def test_durations_in_plain_words(text, span_hours, business):
    d = Duration.parse(text)
    assert d.span.total_seconds() == span_hours * 3600 and d.business is business


@pytest.mark.parametrize("text,says", [
    ("5", "write a whole number and a unit"), ("five days", "write a whole number"),
    ("5 fortnights", "write a whole number"), ("0 days", "above zero"), ("-1 days", "whole number"),
    ("2 business weeks", "in days or hours"), ("99999 days", "longer than ten years"),
])
def test_nonsense_durations_are_refused_saying_what_is_expected(text, says):
    with pytest.raises(ValueError, match=says):
        Duration.parse(text)


@pytest.mark.parametrize("start,duration,deadline", [
    # calendar days: the same wall-clock time, weekends and holidays included
    ("2026-11-13 10:00", "5 days", "2026-11-18 10:00 CET"),
    # business days skip the weekend and 17 November (Tuesday)
    ("2026-11-13 10:00", "5 business days", "2026-11-23 10:00 CET"),
    ("2026-11-13 10:00", "1 business day", "2026-11-16 10:00 CET"),
    # entered on a Saturday: the clock starts on Monday morning
    ("2026-11-14 22:00", "1 business day", "2026-11-17 00:00 CET"),
    ("2026-11-14 22:00", "36 business hours", "2026-11-18 12:00 CET"),
    # Easter 2026: Good Friday 3 April and Easter Monday 6 April are holidays
    ("2026-04-02 09:30", "2 business days", "2026-04-08 09:30 CEST"),
    # entered on a holiday (Christmas Eve): counted from the next working day, 28 December
    ("2026-12-24 15:00", "1 business day", "2026-12-29 00:00 CET"),
    # the clocks go forward on 29 March 2026 and back on 25 October 2026
    ("2026-03-27 10:00", "5 days", "2026-04-01 10:00 CEST"),
    ("2026-03-28 12:00", "36 hours", "2026-03-30 01:00 CEST"),
    ("2026-10-23 10:00", "3 business days", "2026-10-29 10:00 CET"),  # 28 Oct is a holiday
    ("2026-10-24 12:00", "24 hours", "2026-10-25 11:00 CET"),
])
def test_deadlines(start, duration, deadline):
    assert shown(CZ.after(at(start), Duration.parse(duration))) == deadline


@pytest.mark.parametrize("deadline,offset,remind", [
    ("2026-11-23 10:00", "2 business days", "2026-11-19 10:00"),  # over 17 November and a weekend
    ("2026-11-18 10:00", "2 days", "2026-11-16 10:00"),
    ("2026-11-18 10:00", "36 hours", "2026-11-16 22:00"),
    ("2026-11-16 00:00", "1 business day", "2026-11-13 00:00"),  # midnight: the Friday before
])
def test_reminders_count_back_the_same_way(deadline, offset, remind):
    assert shown(CZ.before(at(deadline), Duration.parse(offset))).startswith(remind)


def test_a_calendar_without_a_country_knows_only_weekends():
    plain = Calendar(PRAGUE)
    assert plain.is_working(at("2026-11-17 10:00").date()) and not CZ.is_working(at("2026-11-17 10:00").date())
    assert CZ.holiday(at("2026-11-17 10:00").date()).startswith("Struggle for Freedom")


def test_working_days_by_name():
    assert day_numbers(["Mon", "tue", "wednesday", "sun"]) == {0, 1, 2, 6}
    with pytest.raises(ValueError, match="'funday' is not a day of the week"):
        day_numbers(["funday"])
    six_day = Calendar(PRAGUE, working_days=day_numbers(["mon", "tue", "wed", "thu", "fri", "sat"]), country="CZ")
    assert shown(six_day.after(at("2026-11-13 10:00"), Duration.parse("2 business days"))) == "2026-11-16 10:00 CET"


def test_an_unknown_country_is_refused():
    with pytest.raises(NotImplementedError):
        Calendar(PRAGUE, country="XX").is_working(at("2026-11-13 10:00").date())

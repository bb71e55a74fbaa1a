"""The period finance asks for, from what it typed: `--from`/`--to` or `--month`."""

from __future__ import annotations

import calendar
from datetime import date
from zoneinfo import ZoneInfo

from bridge.billing.model import Period


class PeriodError(ValueError):
    """What is wrong with the dates given, in one line a finance user can act on."""


def _day(option: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{option} '{text}' is not a date: write YYYY-MM-DD, e.g. 2026-11-01") from None


def parse_period(zone: ZoneInfo, first: str | None = None, last: str | None = None, month: str | None = None) -> Period:
    """Both dates inclusive; `month` (YYYY-MM) is its first to its last day."""
    if month is not None:
        if first is not None or last is not None:
            raise PeriodError("give either a month or --from and --to, not both")
        try:
            year, number = (int(part) for part in month.split("-"))
            start = date(year, number, 1)
        except ValueError:
            raise PeriodError(f"month '{month}' is not a month: write YYYY-MM, e.g. 2026-11") from None
        return Period(start, date(year, number, calendar.monthrange(year, number)[1]), zone)
    if first is None or last is None:
        raise PeriodError("give the period: --month YYYY-MM, or both --from and --to (YYYY-MM-DD)")
    start, end = _day("from", first), _day("to", last)
    if start > end:
        raise PeriodError(f"from {start} is after to {end}: the period would be empty")
    return Period(start, end, zone)


def previous_month(today: date, zone: ZoneInfo) -> Period:
    """The whole month before the one `today` falls in."""
    end = today.replace(day=1).toordinal() - 1
    last = date.fromordinal(end)
    return Period(last.replace(day=1), last, zone)

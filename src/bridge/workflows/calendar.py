"""Working time: when a timer of days, hours or business days runs out, and when to remind.

A workflow's calendar says which days are worked (public holidays by country come from the
`holidays` package) and in which time zone a day begins and ends. Business time counts only
working days, so a ticket that waits over a weekend or over Christmas is not expired by days
nobody worked; a ticket that enters its status on a day off starts its clock when the next
working day begins.

Days are calendar days on the wall clock (five days from Monday 10:00 is Saturday 10:00,
whether or not the clocks changed meanwhile); hours and minutes are elapsed time. A business
day is a whole working day on the wall clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WORKWEEK = frozenset(range(5))
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1),
          "week": timedelta(weeks=1)}
_DURATION = re.compile(r"(\d+)\s+(business\s+|working\s+)?(minute|hour|day|week)s?", re.IGNORECASE)


@dataclass(frozen=True)
class Duration:
    """`5 days`, `5 business days`, `36 hours`, `36 business hours`, `90 minutes`, `2 weeks`."""

    span: timedelta
    business: bool = False
    in_days: bool = False  # counted in days (or weeks) on the wall clock, not elapsed hours
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Duration:
        """The duration `text` names; ValueError saying what is expected otherwise."""
        found = _DURATION.fullmatch(text.strip())
        if found is None:
            raise ValueError(
                f"'{text}' is not a duration: write a whole number and a unit, such as "
                "'5 days', '5 business days', '36 hours' or '90 minutes'"
            )
        amount, business, unit = int(found[1]), bool(found[2]), found[3].lower()
        if amount == 0:
            raise ValueError(f"'{text}' is no time at all: a timer needs a duration above zero")
        if business and unit == "week":
            raise ValueError(f"'{text}': count business time in days or hours, e.g. '10 business days'")
        if amount > 3650 * _UNITS["day"] / _UNITS[unit]:
            raise ValueError(f"'{text}' is longer than ten years")
        return cls(amount * _UNITS[unit], business, unit in ("day", "week"), text.strip())


class Calendar:
    """Working days and the time zone of one workflow."""

    def __init__(
        self,
        zone: str,
        working_days: Iterable[int] = WORKWEEK,
        country: str | None = None,
        subdivision: str | None = None,
    ) -> None:
        self.zone = ZoneInfo(zone)
        self.working_days = frozenset(working_days)
        self.country = country
        self._subdivision = subdivision
        if not self.working_days:
            raise ValueError("a calendar needs at least one working day")

    @cached_property
    def _holidays(self) -> holidays.HolidayBase | dict[date, str]:
        if self.country is None:
            return {}
        return holidays.country_holidays(self.country, subdiv=self._subdivision)

    def holiday(self, day: date) -> str | None:
        return self._holidays.get(day)

    def is_working(self, day: date) -> bool:
        return day.weekday() in self.working_days and self.holiday(day) is None

    def after(self, start: datetime, duration: Duration) -> datetime:
        """The moment `duration` after `start` (an aware datetime), in this calendar."""
        if duration.business:
            return self._business(start, duration.span, forward=True)
        if duration.in_days:
            return self._wall(self._local(start) + duration.span)
        return (start.astimezone(UTC) + duration.span).astimezone(self.zone)  # elapsed, not wall

    def before(self, moment: datetime, duration: Duration) -> datetime:
        """The moment `duration` before `moment`, in this calendar."""
        if duration.business:
            return self._business(moment, duration.span, forward=False)
        if duration.in_days:
            return self._wall(self._local(moment) - duration.span)
        return (moment.astimezone(UTC) - duration.span).astimezone(self.zone)

    def _business(self, start: datetime, span: timedelta, *, forward: bool) -> datetime:
        """Walk day by day on the wall clock, spending `span` only on working days."""
        now, left = self._local(start), span
        while True:
            if forward:
                day = now.date()
                edge = datetime.combine(day + timedelta(days=1), time())
            else:  # the day that ends at `now` (at midnight: the one before)
                day = (now - timedelta(microseconds=1)).date()
                edge = datetime.combine(day, time())
            usable = abs(edge - now)
            if self.is_working(day):
                if left <= usable:
                    return self._wall(now + left if forward else now - left)
                left -= usable
            now = edge

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("moments must carry their time zone")
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def _wall(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self.zone)


def day_numbers(names: Iterable[str]) -> frozenset[int]:
    """`["mon", "tue", …]` as weekday numbers; ValueError naming an unknown day."""
    numbers = set()
    for name in names:
        key = name.strip().lower()[:3]
        if key not in DAY_NAMES:
            raise ValueError(f"'{name}' is not a day of the week: use {', '.join(DAY_NAMES)}")
        numbers.add(DAY_NAMES.index(key))
    return frozenset(numbers)

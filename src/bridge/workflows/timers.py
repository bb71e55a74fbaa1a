"""Timers and the calendar they count in, as an admin writes them in a workflow.

```yaml
calendar:
  holidays: CZ                 # public holidays by country (the `holidays` package)
  working_days: [mon, tue, wed, thu, fri]
  time_zone: Europe/Prague     # default: BRIDGE_TIMEZONE
timers:
  awaiting_approval:           # counted from the ticket's last entry into this status
    after: 5 days              # or '5 business days', '36 hours'
    path: [approved, done]     # the statuses the bridge moves it through when time is up
    comment: Schváleno automaticky po {after} ({deadline}).
    public: true
    reminders:
      - before: 2 days
        comment: Zbývají 2 dny ke schválení (do {deadline}).
```
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from bridge.workflows.calendar import DAY_NAMES, Calendar, Duration, day_numbers

# Placeholders a timer's texts may use (see bridge.engine.timers).
TIMER_PLACEHOLDERS = frozenset({"ticket", "status", "after", "deadline", "entered", "left"})


def _duration(text: str) -> str:
    Duration.parse(text)  # a ValueError is the loader's problem at this line
    return text


def _days(names: list[str]) -> list[str]:
    day_numbers(names)
    return names


def _zone(name: str | None) -> str | None:
    if name is not None:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{name}' (e.g. Europe/Prague)") from None
    return name


def _country(code: str | None) -> str | None:
    if code is not None and code.upper() not in holidays.list_supported_countries():
        raise ValueError(
            f"no public holidays known for '{code}': use a country code such as CZ, PL, SK, DE"
        )
    return code.upper() if code else None


DurationText = Annotated[str, AfterValidator(_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalendarSpec(_Strict):
    """The days that count as working days, for timers in business days or hours."""

    holidays: Annotated[str | None, AfterValidator(_country)] = Field(
        None, description="Country whose public holidays are days off, e.g. CZ."
    )
    working_days: Annotated[list[str], AfterValidator(_days)] = Field(
        default_factory=lambda: list(DAY_NAMES[:5]),
        description="Days of the week that are worked: mon … sun.",
    )
    time_zone: Annotated[str | None, AfterValidator(_zone)] = Field(
        None, description="Where a day begins and ends; default BRIDGE_TIMEZONE."
    )

    def build(self, default_zone: str) -> Calendar:
        return Calendar(
            self.time_zone or default_zone, day_numbers(self.working_days), self.holidays
        )


class Reminder(_Strict):
    """A comment some time before the timer runs out, once per stay in the status."""

    before: DurationText = Field(description="How long before the deadline, e.g. '2 days'.")
    comment: str
    public: bool = Field(True, description="Visible to the customer; false: an internal note.")

    @cached_property
    def offset(self) -> Duration:
        return Duration.parse(self.before)


class Timer(_Strict):
    """How long a ticket may stay in a status, and where the bridge moves it then."""

    after: DurationText = Field(description="e.g. '5 days', '5 business days', '36 hours'.")
    path: list[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]] = Field(
        default_factory=list,
        description="Statuses the bridge moves the ticket through, in order; none: the "
        "comment is posted (once per stay) and the ticket stays where it is.",
    )
    comment: str = Field(description="Posted when the bridge moves the ticket.")
    public: bool = Field(True, description="Visible to the customer; false: an internal note.")
    reminders: list[Reminder] = Field(default_factory=list)

    @cached_property
    def duration(self) -> Duration:
        return Duration.parse(self.after)

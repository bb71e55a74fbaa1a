"""Times as Redmine writes and reads them.

The REST API writes every time in UTC with whole seconds, `2026-11-24T16:04:05Z` (its
builder calls `xmlschema(0)`), and dates as `2026-11-24`. The redmine_webhook plugin's
bodies go through Rails' JSON encoder instead, which keeps milliseconds:
`2026-11-24T16:04:05.123Z`. The stand-in keeps full precision and shows each the way its
writer does, so that a one-second cursor behaves as against Redmine.

A query filter such as `updated_on=>=2026-11-24T16:04:05Z` takes a date or a time with
optional seconds and an optional `Z`, nothing else (Redmine's own pattern); a time without
`Z` is read as the server's local time, which the stand-in takes to be UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

FILTER_VALUE = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}(:?\d{2}){0,2}(Z|\d{2}:?\d{2})?)?")


def now() -> datetime:
    return datetime.now(UTC)


def rest_time(moment: datetime | None) -> str | None:
    """A time as the REST API writes it: UTC, whole seconds, `Z`."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def json_time(moment: datetime | None) -> str | None:
    """A time as Rails' JSON encoder writes it (the webhook plugin's bodies): milliseconds."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def whole_seconds(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def parse_time(text: str) -> datetime:
    """A time a seed or a control gives (ISO 8601; without an offset it is UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_date(text: str) -> date:
    return date.fromisoformat(text)


def filter_bound(text: str, upper: bool) -> datetime | None:
    """A date filter's bound as Redmine reads it, or None if Redmine calls it invalid.

    A date is the whole day: from its start, up to its end. A time counts whole seconds.
    """
    if not FILTER_VALUE.fullmatch(text):
        return None
    if "T" not in text:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return start + timedelta(days=1) - timedelta(microseconds=1) if upper else start
    moment_text = text.rstrip("Z")
    day_text, _, clock = moment_text.partition("T")
    digits = clock.replace(":", "")
    if len(digits) not in (2, 4, 6):
        return None  # an offset without a sign: Redmine's pattern allows it, Time.parse misreads it
    hour, minute, second = int(digits[0:2]), int(digits[2:4] or 0), int(digits[4:6] or 0)
    try:
        day = date.fromisoformat(day_text)
        return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None

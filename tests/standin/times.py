"""Times as Jira writes and reads them.

Jira writes times with milliseconds and a bare offset, `2026-11-20T16:02:41.508+0100`, in
the zone of the user it answers. A JQL date has no zone at all: Jira reads it in the zone
of the user who searches, which is what a client writing UTC there must allow for.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Europe/Prague"
# The date formats JQL accepts, as Jira lists them in its error message.
JQL_FORMATS = {"%Y/%m/%d %H:%M": "yyyy/MM/dd HH:mm", "%Y-%m-%d %H:%M": "yyyy-MM-dd HH:mm",
               "%Y/%m/%d": "yyyy/MM/dd", "%Y-%m-%d": "yyyy-MM-dd"}


def zone(name: str | None) -> tzinfo:
    """A user's time zone by its name; an unknown name is a seed's mistake (ValueError)."""
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def now() -> datetime:
    return datetime.now(UTC)


def jira_time(moment: datetime, where: tzinfo) -> str:
    """`moment` as Jira writes it, in the zone `where`: 2026-11-20T16:02:41.508+0100."""
    local = moment.astimezone(where)
    millis = f"{local.microsecond // 1000:03d}"
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + millis + local.strftime("%z")


def parse_time(text: str) -> datetime:
    """A time a seed gives (ISO 8601) or Jira wrote; it must say its offset (ValueError)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no offset")
    return moment


def jql_date(text: str, where: tzinfo) -> datetime | None:
    """A JQL date read in the searching user's zone `where`, or None if it is not one."""
    for pattern in JQL_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=where)
        except ValueError:
            continue
    return None

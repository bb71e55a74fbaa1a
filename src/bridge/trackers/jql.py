"""JQL for the searches periodic jobs make: the few conditions they need, with every name
quoted so that no status, type or project name can end its string and change the query.

Tickets come in the order they were last updated (then by key), so that a sweep interrupted
half-way can start again from the last `updated` it saw.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

ORDER = "ORDER BY updated ASC, key ASC"
# Jira reads a JQL date in the time zone of the user who searches, which the bridge does
# not know. The date is written in UTC and moved back by the furthest any zone lags behind
# UTC (UTC-12): in whatever zone Jira reads it, the query then starts at or before the
# moment asked for, never after it. That overlap lets in tickets updated up to a day
# earlier; the search drops them once it has read their `updated`.
ZONE_OVERLAP = timedelta(hours=12)
JQL_DATE = "%Y/%m/%d %H:%M"  # Jira's "yyyy/MM/dd HH:mm"; the minutes cut off, never rounded up


def quoted(name: str) -> str:
    """`name` as a JQL string: in double quotes, its backslashes and double quotes escaped."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def among(field: str, names: Iterable[str]) -> str | None:
    """`field in ("a", "b")`, or None when no name is given (no condition on the field)."""
    listed = [names] if isinstance(names, str) else list(dict.fromkeys(names))
    if not listed:
        return None
    return f"{field} in ({', '.join(quoted(name) for name in listed)})"


def updated_since(moment: datetime) -> str:
    """`updated >= "yyyy/MM/dd HH:mm"`, early enough in every time zone (`ZONE_OVERLAP`)."""
    if moment.tzinfo is None:
        raise ValueError("a search by time needs an aware datetime, not a naive one")
    earliest = moment.astimezone(UTC) - ZONE_OVERLAP
    return f'updated >= "{earliest.strftime(JQL_DATE)}"'


def search_jql(
    *,
    statuses: Iterable[str] = (),
    issue_types: Iterable[str] = (),
    projects: Iterable[str] = (),
    since: datetime | None = None,
) -> str:
    """Every given condition joined by AND, then the order of the sweep."""
    clauses = [
        clause
        for clause in (among("status", statuses), among("issuetype", issue_types), among("project", projects))
        if clause is not None
    ]
    if since is not None:
        clauses.append(updated_since(since))
    return " AND ".join(clauses) + (" " if clauses else "") + ORDER

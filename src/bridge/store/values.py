"""How values cross into and out of columns, the same for every table.

Texts are written without NUL (PostgreSQL's text cannot hold it) and cut to their columns,
so no value a tracker or a delivery carried can make a write fail. Datetimes are stored in
UTC and always come back aware, though SQLite hands them back naive.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Table


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def clean_text(value: str | None, limit: int | None = None) -> str | None:
    """`value` without NUL and at most `limit` characters long."""
    if value is None:
        return None
    return value.replace("\x00", "")[:limit]


def text_lengths(table: Table) -> dict[str, int | None]:
    """The longest text each of `table`'s columns holds (None: unbounded or not text)."""
    return {c.name: getattr(c.type, "length", None) for c in table.columns}

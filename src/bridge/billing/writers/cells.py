"""How a row's values become cells that a spreadsheet shows as they are meant.

Text from tickets and worklogs is written by customers; a summary such as
`=HYPERLINK("http://evil", "click")` would run as a formula when finance opens the file.
Following OWASP's CSV injection guidance, text starting with a character a spreadsheet
takes as the start of a formula gets a leading apostrophe, so it shows as text. Only text is
touched: hours are numbers, and an adjustment's `-1.50` must stay a number.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bridge.billing.model import Row

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralised(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


def local(moment: datetime, zone: ZoneInfo) -> datetime:
    """`moment` in the period's zone; a naive one is UTC, as the store hands them back."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone)


def exact_hours(row: Row) -> Decimal:
    """The row's hours, with `-0.00` (a few seconds taken back) written as `0.00`."""
    value = row.hours
    return value.copy_abs() if value.is_zero() else value

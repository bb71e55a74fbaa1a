"""The monthly billing preview: on the first of each month, last month's preview is written
to `BRIDGE_EXPORT_DIR`, ready for finance to look over before billing it with `--final`.

It is a preview, so it records nothing; a file already there for that month is replaced
whole (written beside it, then renamed), never left half-written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bridge.billing.export import Billing, Layout
from bridge.billing.period import previous_month

log = logging.getLogger(__name__)


def preview_name(first_day: str, fmt: str) -> str:
    return f"billing-preview-{first_day[:7]}.{fmt}"


async def monthly_preview(billing: Billing, folder: Path, fmt: str, zone: ZoneInfo, now: datetime | None = None) -> Path:
    """Write last month's preview into `folder`; the file's path."""
    period = previous_month((now or datetime.now(zone)).astimezone(zone).date(), zone)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / preview_name(period.first.isoformat(), fmt)
    spool = tempfile.NamedTemporaryFile(dir=folder, prefix=".billing-", delete=False)
    try:
        with spool:
            totals = await billing.preview(period, Layout(fmt), spool, "monthly job")
        os.replace(spool.name, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spool.name)
    log.info("billing preview of %s written to %s: %d rows", period, target, totals.rows)
    return target


async def scheduled_preview(billing: Billing, folder: Path, fmt: str, zone: ZoneInfo) -> None:
    """The scheduler's run: a failure is logged with what to do."""
    try:
        await monthly_preview(billing, folder, fmt, zone)
    except Exception as exc:
        log.error("the monthly billing preview failed: %s; run `bridge export billing --month` by hand", exc)

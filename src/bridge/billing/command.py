"""`bridge export billing` and `bridge billing runs`: finance's exports from a terminal.

The export is written to a temporary file first and moved into place (or copied to standard
output) only once it is whole, so a failure never leaves half an export behind. What the
command did is said on standard error, so standard output can carry the export itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import typer

from bridge.billing.export import Billing, ExportError, Layout, write_run
from bridge.billing.model import Period, hours
from bridge.billing.writers import Totals
from bridge.config import Settings
from bridge.store.ledger import Ledger, LedgerConflict
from bridge.trackers.base import TrackerError


def progress() -> Callable[[int], None]:
    if not sys.stderr.isatty():
        return lambda seen: None

    def show(seen: int) -> None:
        if seen % 100 == 0:
            typer.echo(f"\r{seen} tickets read…", err=True, nl=False)

    return show


@contextlib.contextmanager
def whole_file(output: Path | None) -> Iterator[IO[bytes]]:
    """A temporary file that becomes `output` (or goes to standard output) when the block
    ends without an error, and is thrown away when it fails."""
    folder = output.resolve().parent if output is not None else None
    spool = tempfile.NamedTemporaryFile(dir=folder, prefix=".billing-", delete=False)
    try:
        yield spool
        spool.flush()
        if output is not None:
            spool.close()
            os.replace(spool.name, output)
        else:
            spool.seek(0)
            shutil.copyfileobj(spool, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    finally:
        spool.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spool.name)


def _summary(what: str, totals: Totals, output: Path | None) -> str:
    where = f" → {output}" if output is not None else ""
    return f"{what}: {totals.rows} rows, {hours(totals.seconds)} h{where}"


async def export(
    settings: Settings, period: Period, layout: Layout, output: Path | None, *, final: bool, by: str,
    site: str | None = None,
) -> int:
    """Preview or bill `period`; 0 done, 1 the tracker or the ledger failed it."""
    from bridge.jobs.command import close_services, services_of

    services, chosen = services_of(settings, "read billable work from", site)
    billing: Billing = chosen.billing
    billing.progress = progress()
    billing.warn = lambda problem: typer.echo(f"\rwarning: {problem}", err=True)
    try:
        with whole_file(output) as out:
            if final:
                run, totals = await billing.final(period, layout, out, by)
                what = f"final billing run {run.id} of {period}, {run.tickets} tickets"
            else:
                totals = await billing.preview(period, layout, out, by)
                what = f"preview of {period} (nothing recorded; --final bills it)"
    except TrackerError as exc:
        typer.echo(f"\nerror: reading the tracker failed, nothing was recorded: {exc}", err=True)
        return 1
    except LedgerConflict as exc:
        typer.echo(f"\nerror: {exc}; nothing was recorded, export again", err=True)
        return 1
    finally:
        await close_services(services)
    typer.echo(("\n" if sys.stderr.isatty() else "") + _summary(what, totals, output), err=True)
    return 0


def export_run(ledger: Ledger, run_id: int, layout: Layout, output: Path | None) -> int:
    """A final run again, from the ledger alone; 2 when there is no such run (a bad
    argument, like a date that does not parse)."""
    try:
        with whole_file(output) as out:
            totals = write_run(ledger, run_id, layout, out)
    except ExportError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    typer.echo(_summary(f"final billing run {run_id}, again", totals, output), err=True)
    return 0


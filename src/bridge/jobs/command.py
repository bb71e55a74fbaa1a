"""`bridge sweep` and `bridge timers list`: the periodic jobs, run once from a terminal or cron.

A sweep queues what is due exactly as the scheduler of `bridge serve` does, then takes up
the inbox itself, so the lines it prints are what was done; a running service and a sweep
at the same time share the inbox safely. A terminal sees how many tickets were looked at
while a long sweep runs.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import typer

from bridge.config import Settings
from bridge.jobs.timers import running_timers

DRAIN_ROUNDS = 200  # a bound on taking up the inbox: what is left waits for the service


def _progress() -> Callable[[int], None]:
    if not sys.stderr.isatty():
        return lambda seen: None

    def show(seen: int) -> None:
        if seen % 50 == 0:
            typer.echo(f"\r{seen} tickets looked at…", err=True, nl=False)

    return show


def services_of(settings: Settings, purpose: str = "sweep", site: str | None = None):  # type: ignore[no-untyped-def]
    """The service's parts, built as `bridge serve` builds them, and the site asked for;
    exit 1 without a tracker, 2 naming a site there is not."""
    from bridge.app import create_app
    from bridge.site_services import UnknownSite

    if not settings.tracker_configured:
        typer.echo(
            f"error: no tracker is configured (BRIDGE_JIRA_URL, BRIDGE_REDMINE_URL or "
            f"BRIDGE_SITES_FILE): there is no tracker to {purpose}",
            err=True,
        )
        raise typer.Exit(1)
    services = create_app(settings).app.state.services
    try:
        return services, services.site(site)
    except UnknownSite as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


async def sweep(settings: Settings, job: str, dry_run: bool, site: str | None = None) -> int:
    """Run one job once on a site; 0 unless the sweep itself failed."""
    chosen = _sweep_timers if job == "timers" else _sweep_reconcile
    return await _run(settings, f"the {job} sweep failed", lambda s, o, z: chosen(s, o, z, dry_run), site)


async def _run(
    settings: Settings, failing: str, work: Callable[[Any, Any, ZoneInfo], Awaitable[None]], site: str | None
) -> int:
    """`work` with the services built from `settings` and the site asked for, always closed
    after: 0, or 1 when it failed (said in one line)."""
    services, chosen = services_of(settings, site=site)
    try:
        await work(services, chosen, ZoneInfo(settings.timezone))
        return 0
    except Exception as exc:
        typer.echo(f"error: {failing}: {exc}", err=True)
        return 1
    finally:
        await close_services(services)


async def _sweep_timers(services: Any, site: Any, zone: ZoneInfo, dry_run: bool) -> None:
    result = await site.jobs.timers(dry_run=dry_run, progress=_progress())
    if result is None:
        typer.echo("another process is sweeping timers right now; nothing done")
        return
    for running in result.queued:
        typer.echo(("would " if dry_run else "") + running.describe(zone))
    summary = f"{len(result.queued)} due of {result.seen} tickets with a running timer"
    summary += f"; {len(result.already)} queued before" if result.already else ""
    await _finish(services, summary, result.refused, dry_run)


async def _sweep_reconcile(services: Any, site: Any, zone: ZoneInfo, dry_run: bool) -> None:
    found = await site.jobs.reconcile(dry_run=dry_run, progress=_progress())
    if found is None:
        typer.echo("another process is reconciling right now; nothing done")
        return
    for ticket, change in found.missed:
        typer.echo(
            f"{'would judge' if dry_run else 'judging'} {ticket.ticket.key}  "
            f"{change.from_status} → {change.to_status} by {change.actor.name or change.actor.id} "
            f"at {change.at.astimezone(zone):%d.%m.%Y %H:%M} (change {change.id})"
        )
    since = f"{found.since.astimezone(zone):%d.%m.%Y %H:%M}"
    summary = f"{len(found.missed)} changes no delivery brought, in {found.seen} tickets updated since {since}"
    if found.polled is not None and found.polled.items:
        summary += (f"; {found.polled.items} development items read, "
                    f"{len(found.polled.queued)} tickets queued: {', '.join(found.polled.queued) or 'none'}")
    await _finish(services, summary, found.refused, dry_run)


async def _finish(services: Any, summary: str, refused: list[str], dry_run: bool) -> None:
    if not dry_run:
        summary += "; " + await _take_up(services)
    for problem in refused:
        typer.echo(f"warning: passed over {problem}", err=True)
    typer.echo(summary)


async def _take_up(services) -> str:  # type: ignore[no-untyped-def]
    """Judge and act on what is in the inbox now, as the service's worker would."""
    for _ in range(DRAIN_ROUNDS):
        if not await services.worker.run_once():
            break
    counts = services.store.counts()
    waiting = counts["pending"] + counts["retrying"]
    return f"inbox: {counts['done']} done, {waiting} waiting, {counts['dead']} dead"


async def close_services(services) -> None:  # type: ignore[no-untyped-def]
    for site in services.sites.values():
        if site.client is not None:
            await site.client.aclose()
    services.store.engine.dispose()


async def list_timers(settings: Settings, site: str | None = None) -> int:
    return await _run(settings, "reading the tickets failed", _list_timers, site)


async def _list_timers(services: Any, site: Any, zone: ZoneInfo) -> None:
    def refused(workflow: str, exc: Exception) -> None:
        typer.echo(f"warning: passed over workflow {workflow}: {exc}", err=True)

    count = 0
    now = datetime.now(UTC)
    async for running in running_timers(
        site.tracker, site.workflows(), str(zone), now, refused
    ):
        typer.echo(running.describe(zone))
        count += 1
    typer.echo(f"{count} tickets with a running timer")

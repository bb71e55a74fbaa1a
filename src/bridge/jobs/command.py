"""`bridge sweep` and `bridge timers list`: the periodic jobs, run once from a terminal or cron.

A sweep queues what is due exactly as the scheduler of `bridge serve` does, then takes up
the inbox itself, so the lines it prints are what was done; a running service and a sweep
at the same time share the inbox safely. A terminal sees how many tickets were looked at
while a long sweep runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
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


def _services(settings: Settings):  # type: ignore[no-untyped-def]
    from bridge.app import create_app

    if not settings.tracker_configured:
        typer.echo("error: BRIDGE_JIRA_URL is not set: there is no tracker to sweep", err=True)
        raise typer.Exit(1)
    return create_app(settings).app.state.services


async def sweep(settings: Settings, job: str, dry_run: bool) -> int:
    """Run one job once; 0 unless the sweep itself failed."""
    services = _services(settings)
    zone = ZoneInfo(settings.timezone)
    try:
        if job == "timers":
            result = await services.jobs.timers(dry_run=dry_run, progress=_progress())
            if result is None:
                typer.echo("another process is sweeping timers right now; nothing done")
                return 0
            for running in result.queued:
                typer.echo(("would " if dry_run else "") + running.describe(zone))
            summary = f"{len(result.queued)} due of {result.seen} tickets with a running timer"
            summary += f"; {len(result.already)} queued before" if result.already else ""
        else:
            found = await services.jobs.reconcile(dry_run=dry_run, progress=_progress())
            if found is None:
                typer.echo("another process is reconciling right now; nothing done")
                return 0
            for ticket, change in found.missed:
                typer.echo(
                    f"{'would judge' if dry_run else 'judging'} {ticket.ticket.key}  "
                    f"{change.from_status} → {change.to_status} by {change.actor.name or change.actor.id} "
                    f"at {change.at.astimezone(zone):%d.%m.%Y %H:%M} (change {change.id})"
                )
            summary = f"{len(found.missed)} changes no delivery brought, in {found.seen} tickets updated since {found.since.astimezone(zone):%d.%m.%Y %H:%M}"
        if not dry_run:
            summary += "; " + await _take_up(services)
        for problem in result.refused if job == "timers" else found.refused:
            typer.echo(f"warning: passed over {problem}", err=True)
        typer.echo(summary)
        return 0
    except Exception as exc:
        typer.echo(f"error: the {job} sweep failed: {exc}", err=True)
        return 1
    finally:
        await _close(services)


async def _take_up(services) -> str:  # type: ignore[no-untyped-def]
    """Judge and act on what is in the inbox now, as the service's worker would."""
    for _ in range(DRAIN_ROUNDS):
        if not await services.worker.run_once():
            break
    counts = services.store.counts()
    waiting = counts["pending"] + counts["retrying"]
    return f"inbox: {counts['done']} done, {waiting} waiting, {counts['dead']} dead"


async def _close(services) -> None:  # type: ignore[no-untyped-def]
    if services.client is not None:
        await services.client.aclose()
    services.store.engine.dispose()


async def list_timers(settings: Settings) -> int:
    services = _services(settings)
    zone = ZoneInfo(settings.timezone)
    count = 0

    def refused(workflow: str, exc: Exception) -> None:
        typer.echo(f"warning: passed over workflow {workflow}: {exc}", err=True)

    try:
        async for running in running_timers(
            services.worker.tracker, services.registry.current, settings.timezone,
            datetime.now(UTC), refused,
        ):
            typer.echo(running.describe(zone))
            count += 1
        typer.echo(f"{count} tickets with a running timer")
        return 0
    except Exception as exc:
        typer.echo(f"error: reading the tickets failed: {exc}", err=True)
        return 1
    finally:
        await _close(services)

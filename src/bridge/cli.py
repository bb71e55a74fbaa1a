"""The `bridge` command: run the service, check workflows, inspect and replay deliveries.

Its users are admins at a terminal, so every failure they can act on is one line saying what
to do, and scripts can tell from the exit status (listed in `HELP`) what happened.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from bridge.config import Settings, SettingsError, load_settings, unknown_variables
from bridge.engine import Verdict
from bridge.store import (
    DEAD,
    REPLAYABLE,
    STATES,
    DatabaseProblem,
    DatabaseUnreachable,
    NoDatabase,
    SchemaAhead,
    SchemaBehind,
    Store,
    create_db_engine,
    head_revision,
    migrate,
    open_existing,
    public_url,
)
from bridge.store.tables import MAX_ID

HELP = """ticket-bridge: enforces the service process beside your tracker.

Settings come from BRIDGE_... environment variables and a .env file in the working
directory (README.md, Configuration); the database is BRIDGE_DATABASE_URL (default
sqlite:///./var/bridge.db). Exit status: 0 done, 1 the database, the workflows or a named
delivery could not be used, 2 an invalid setting or argument."""
# Verdicts decisions are recorded with; `needs` is the core asking for facts, never recorded.
# what the audit log records: the core's own questions (needs) and waits are never kept
VERDICTS = tuple(v.value for v in Verdict if v not in (Verdict.NEEDS, Verdict.WAITING))

# Plain help: typer's rich panels label every switch `<bool>`, as if it took a value.
app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode=None)
deliveries_cli = typer.Typer(help="Inspect and replay webhook deliveries.", no_args_is_help=True)
decisions_cli = typer.Typer(help="Read the audit log of decisions.", no_args_is_help=True)
app.add_typer(deliveries_cli, name="deliveries")
app.add_typer(decisions_cli, name="decisions")
sweep_cli = typer.Typer(help="Run a periodic job once, as `bridge serve` does on its schedule.", no_args_is_help=True)
timers_cli = typer.Typer(help="Running timers: which tickets expire when, and why.", no_args_is_help=True)
app.add_typer(sweep_cli, name="sweep")
app.add_typer(timers_cli, name="timers")
export_cli = typer.Typer(help="Export what finance invoices from.", no_args_is_help=True)
billing_cli = typer.Typer(help="Final billing runs recorded in the ledger.", no_args_is_help=True)
app.add_typer(export_cli, name="export")
app.add_typer(billing_cli, name="billing")


def _settings(**overrides: Any) -> Settings:
    """The settings, or exit 2 with one line per invalid one. Names that are no setting are
    warned about first, since a mistyped name leaves a default in force."""
    env_file = overrides.get("_env_file", Settings.model_config.get("env_file"))
    for warning in unknown_variables(os.environ, env_file):
        typer.echo(f"warning: {warning}", err=True)
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from None


# What to do about each problem with the database; the problem itself says what is wrong.
_DATABASE_ADVICE: dict[type[DatabaseProblem], str] = {
    NoDatabase: "{problem} (set BRIDGE_DATABASE_URL)",
    DatabaseUnreachable: "BRIDGE_DATABASE_URL: {problem}",
    SchemaBehind: "{problem}: run `bridge migrate`, or `bridge serve` once",
    SchemaAhead: "{problem}: a newer ticket-bridge migrated it; run that one",
}


def _database_failed(exc: DatabaseProblem) -> NoReturn:
    """One line saying what is wrong with the database and what to do about it; exit 1."""
    typer.echo("error: " + _DATABASE_ADVICE.get(type(exc), "{problem}").format(problem=exc), err=True)
    raise typer.Exit(1) from None


def _existing_store(settings: Settings) -> Store:
    """The store of a database already there at the current schema: reading (or queueing a
    replay) never creates or migrates one, so a mistyped URL is reported, not answered."""
    try:
        return Store(open_existing(settings.database_url))
    except DatabaseProblem as exc:
        _database_failed(exc)


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    for noisy in ("apscheduler", "httpx"):  # httpx logs every tracker call at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _raise_open_files_limit() -> None:
    """Every connection holds a file; take as many as the system allows this process, so
    that a crowd of connections is cut off by the read timeout rather than by running out."""
    try:
        import resource
    except ImportError:  # not on this platform
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == hard:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:
        logging.getLogger(__name__).warning("open files stay limited to %d: %s", soft, exc)
        return
    logging.getLogger(__name__).info("open files limit raised from %d to %d", soft, hard)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
) -> None:
    """Run the service: webhook intake, worker, scheduler and API."""
    import uvicorn

    from bridge.app import create_app
    from bridge.sites import SitesError
    from bridge.web.limits import RequestLimits, bounded_http
    from bridge.workflows import WorkflowError

    settings = _settings()
    _logging(settings.log_level)
    _raise_open_files_limit()
    try:
        asgi = create_app(settings)
    except SitesError as exc:
        for problem in exc.problems:
            typer.echo(problem, err=True)
        typer.echo("error: the sites are not configured right; not starting", err=True)
        raise typer.Exit(1) from None
    except WorkflowError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        typer.echo("error: the workflows do not validate; not starting", err=True)
        raise typer.Exit(1) from None
    except DatabaseProblem as exc:
        _database_failed(exc)
    # Database threads hand over to the event loop and back many times a second; the
    # default 5 ms GIL switch interval would add that much to each hand-over.
    sys.setswitchinterval(0.0005)
    limits = RequestLimits(
        settings.request_read_timeout_seconds, settings.max_header_bytes, settings.max_headers
    )
    uvicorn.run(
        asgi,
        host=host,
        port=port,
        http=bounded_http(limits),
        log_level=settings.log_level.lower(),
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )


@app.command()
def check(
    paths: Annotated[list[Path] | None, typer.Argument(help="Workflow files or folders.")] = None,
) -> None:
    """Validate workflow files: exit 0 with a summary, or 1 with `path:line:col: message`."""
    from bridge.workflows import check_paths

    targets = paths or [_settings().workflows_dir]
    found, problems = check_paths(list(targets))
    for problem in problems:
        typer.echo(str(problem))
    if problems or found is None:
        typer.echo(f"{len(problems)} problem(s)", err=True)
        raise typer.Exit(1)
    for wf in found:
        kinds = [*wf.applies_to.issue_types, *wf.applies_to.request_types]
        typer.echo(
            f"ok  {wf.name}: {len(wf.statuses)} statuses, "
            f"{sum(len(m.to) for m in wf.customer_transitions)} customer moves, "
            f"types: {', '.join(kinds)}  ({found.source[wf.name]})"
        )
    typer.echo(f"{len(found)} workflow(s) valid")


@app.command("migrate")
def migrate_database() -> None:
    """Create the database if it is not there and bring its schema up to date
    (`bridge serve` does this on start)."""
    settings = _settings()
    try:
        engine = create_db_engine(settings.database_url)
        migrate(engine)
    except DatabaseProblem as exc:
        _database_failed(exc)
    engine.dispose()
    typer.echo(f"{public_url(settings.database_url)}: schema up to date ({head_revision()})")


@app.command()
def doctor(
    ticket: Annotated[
        str | None,
        typer.Option(help="A ticket the bridge will govern, e.g. SRV-1: checks the account's permissions on it."),
    ] = None,
) -> None:
    """Check the configuration end to end before going live: settings, database, workflows,
    the tracker's answer to the bridge's credentials, permissions, statuses. Exit 1 on any
    failure."""
    import asyncio

    from bridge.doctor import diagnose

    settings = _settings()
    if not asyncio.run(diagnose(settings, ticket, typer.echo)):
        raise typer.Exit(1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of a workflow file."""
    from bridge.workflows import json_schema

    typer.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


def _one_of(option: str, value: str | None, choices: Sequence[str]) -> None:
    if value is not None and value not in choices:
        _usage(f"{option} must be one of {', '.join(choices)}")


def _print_rows(
    rows: list[dict[str, Any]],
    as_json: bool,
    columns: list[str],
    none: str,
    note: Callable[[dict[str, Any]], str | None] = lambda row: None,
) -> None:
    """Rows as JSON, or one line each ending with the row's `note`; `none` when there are none.
    The column `site` shows the row's `tracker`: the site it belongs to."""
    if as_json:
        typer.echo(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo(none)
    for row in rows:
        line = "  ".join(f"{c}={row.get('tracker' if c == 'site' else c)}" for c in columns)
        extra = note(row)
        typer.echo(f"{line}  {extra}" if extra else line)


@deliveries_cli.command("list")
def deliveries_list(
    state: Annotated[str | None, typer.Option(help=f"One of {', '.join(STATES)}.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, with bodies.")] = False,
) -> None:
    """List deliveries, newest first."""
    _one_of("--state", state, STATES)
    settings = _settings()
    rows = _existing_store(settings).list_deliveries(state, limit, include_body=as_json)
    none = f"0 {state + ' ' if state else ''}deliveries in {public_url(settings.database_url)}"
    _print_rows(rows, as_json, ["id", "state", "delivery_key", "received_at", "attempts", "site", "last_error"], none)


@deliveries_cli.command("replay")
def deliveries_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="Delivery ids.", min=1, max=MAX_ID)] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Replay every dead delivery.")] = False,
) -> None:
    """Queue dead or done deliveries again, or try a retrying one now; a running service
    picks them up within a second."""
    if not ids and not all_dead:
        typer.echo("error: name delivery ids or use --all-dead", err=True)
        raise typer.Exit(2)
    settings = _settings()
    store = _existing_store(settings)
    targets = list(ids or [])
    if all_dead:
        targets += [row["id"] for row in store.list_deliveries(DEAD, limit=100000)]
    if not targets:
        typer.echo(f"nothing to replay: 0 dead deliveries in {public_url(settings.database_url)}")
        return
    queued = [_replay_one(store, delivery_id) for delivery_id in targets]
    if not all(queued):
        raise typer.Exit(1)


def _replay_one(store: Store, delivery_id: int) -> bool:
    """Queue one delivery, saying what it was; or say why it was not queued."""
    before = store.delivery_state(delivery_id)
    if before is not None and store.replay(delivery_id):
        typer.echo(f"{delivery_id}: queued (was {before})")
        return True
    now = store.delivery_state(delivery_id)  # it may have moved on meanwhile
    if now is None:
        typer.echo(f"{delivery_id}: no such delivery", err=True)
    else:
        replayable = ", ".join(REPLAYABLE[:-1]) + f" or {REPLAYABLE[-1]}"
        typer.echo(f"{delivery_id}: is {now}, not {replayable} — nothing to replay", err=True)
    return False


@decisions_cli.command("list")
def decisions_list(
    ticket: Annotated[str | None, typer.Option(help="Ticket key, e.g. SRV-412.")] = None,
    verdict: Annotated[str | None, typer.Option(help=f"One of {', '.join(VERDICTS)}.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, with actions.")] = False,
) -> None:
    """List decisions, newest first; those of a dry run are marked, their actions not sent."""
    _one_of("--verdict", verdict, VERDICTS)
    settings = _settings()
    rows = _existing_store(settings).list_decisions(ticket, verdict, limit)
    given = ", ".join(f"{k}={v}" for k, v in (("ticket", ticket), ("verdict", verdict)) if v)
    none = f"0 decisions in {public_url(settings.database_url)}" + (f" ({given})" if given else "")
    columns = ["id", "site", "ticket", "verdict", "rule", "from_status", "to_status", "actor", "reason"]
    _print_rows(rows, as_json, columns, none, note=_not_sent)


def _not_sent(decision: dict[str, Any]) -> str | None:
    return "dry_run=yes — actions not sent" if decision["dry_run"] and decision["actions"] else None


@app.command()
def attention(
    limit: Annotated[int, typer.Option(help="How many, the longest waiting first.", min=1)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Tickets waiting for the team: a customer changed them last, or a decision needs
    someone. From the bridge's own records; the tracker is not asked."""
    from dataclasses import asdict

    from bridge.store.attention import Attention

    settings = _settings()
    rows = [asdict(w) for w in Attention(_existing_store(settings).engine).queue(limit)]
    none = f"no ticket waits for the team in {public_url(settings.database_url)}"
    _print_rows(rows, as_json, ["since", "site", "ticket", "workflow", "what"], none)


DryRun = Annotated[bool, typer.Option("--dry-run", help="Say what would be done; change nothing.")]
SiteName = Annotated[str | None, typer.Option("--site", help="Which site (default: the first configured).")]


@sweep_cli.command("timers")
def sweep_timers_command(dry_run: DryRun = False, site: SiteName = None) -> None:
    """Expire and remind what is due now: one line per ticket, then a summary."""
    import asyncio

    from bridge.jobs.command import sweep

    raise typer.Exit(asyncio.run(sweep(_settings(), "timers", dry_run, site)))


@sweep_cli.command("reconcile")
def sweep_reconcile_command(dry_run: DryRun = False, site: SiteName = None) -> None:
    """Find status changes the tracker never delivered and judge them: one line per change
    (on a Redmine without webhooks, this is its polling pass)."""
    import asyncio

    from bridge.jobs.command import sweep

    raise typer.Exit(asyncio.run(sweep(_settings(), "reconcile", dry_run, site)))


@timers_cli.command("list")
def timers_list(site: SiteName = None) -> None:
    """Every ticket with a running timer: since when, when it runs out, what then. Changes
    nothing."""
    import asyncio

    from bridge.jobs.command import list_timers

    raise typer.Exit(asyncio.run(list_timers(_settings(), site)))


DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\t": "\t"}


@export_cli.command("billing")
def export_billing(
    from_: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (in BRIDGE_TIMEZONE).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD, inclusive.")] = None,
    month: Annotated[str | None, typer.Option(help="A whole month, YYYY-MM: instead of --from/--to.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx or json.")] = "csv",
    granularity: Annotated[str, typer.Option(help="ticket (a row per ticket) or worklog.")] = "ticket",
    delimiter: Annotated[str, typer.Option(help="CSV delimiter: ',' ';' or tab.")] = ",",
    final: Annotated[bool, typer.Option("--final", help="Bill it: record the run in the ledger.")] = False,
    run: Annotated[int | None, typer.Option("--run", help="Export a final run again, identical.", min=1, max=MAX_ID)] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file (default: standard output).")] = None,
    by: Annotated[str | None, typer.Option(help="Who asks, recorded with a final run (default: your login).")] = None,
    site: SiteName = None,
) -> None:
    """Done work with its logged hours for a period. A preview (the default) records
    nothing; --final bills it, so no later export bills the same work again."""
    import asyncio
    import getpass
    from zoneinfo import ZoneInfo

    from bridge.billing.command import export, export_run
    from bridge.billing.export import Layout
    from bridge.billing.period import PeriodError, parse_period
    from bridge.billing.writers import FORMATS, GRANULARITIES
    from bridge.store.ledger import Ledger

    _one_of("--format", fmt, FORMATS)
    _one_of("--granularity", granularity, GRANULARITIES)
    _one_of("--delimiter", delimiter, tuple(DELIMITERS))
    if fmt == "xlsx" and output is None and sys.stdout.isatty():
        _usage("XLSX is binary: write it to a file with -o FILE.xlsx, or redirect standard output")
    layout = Layout(fmt, granularity, DELIMITERS[delimiter])
    settings = _settings()
    if run is not None:
        if final or from_ or to or month:
            _usage("--run exports a recorded run as it was: give no period and no --final")
        raise typer.Exit(export_run(Ledger(_existing_store(settings).engine), run, layout, output))
    try:
        period = parse_period(ZoneInfo(settings.timezone), from_, to, month)
    except PeriodError as exc:
        _usage(str(exc))
    who = by or getpass.getuser()
    raise typer.Exit(asyncio.run(export(settings, period, layout, output, final=final, by=who, site=site)))


@billing_cli.command("runs")
def billing_runs(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Final billing runs, newest first."""
    from bridge.billing.export import describe
    from bridge.store.ledger import Ledger

    settings = _settings()
    runs = [describe(r) for r in Ledger(_existing_store(settings).engine).runs()]
    columns = ["id", "from", "to", "tickets", "hours", "requested_by", "created_at", "site"]
    _print_rows(runs, as_json, columns, f"0 final billing runs in {public_url(settings.database_url)}")


def _usage(problem: str) -> NoReturn:
    typer.echo(f"error: {problem}", err=True)
    raise typer.Exit(2)


def main() -> None:
    app()

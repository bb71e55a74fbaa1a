"""`bridge doctor`: the configuration checked end to end, as a user would before going live.

Each check answers one line, `OK` with what was found or `FAIL` with what to fix; a failed
check never hides the ones after it, unless they depend on it (no tracker, nothing to ask
it). Nothing is created or changed: the database is only looked at, the tracker only read.
"""

from __future__ import annotations

import difflib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from bridge.config import Settings
from bridge.trackers.base import Tracker
from bridge.trackers.jira import JiraTracker
from bridge.workflows import WorkflowSet, check_paths


@dataclass(frozen=True)
class Finding:
    ok: bool
    subject: str
    text: str

    def __str__(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'}  {self.subject}: {self.text}"


async def examine(
    settings: Settings, sites: Sequence[tuple[str, Tracker]], ticket: str | None = None
) -> AsyncIterator[Finding]:
    """`sites`: each site's (where, tracker); none when no tracker is configured."""
    yield Finding(True, "settings", "read from the environment and .env")
    yield database(settings.database_url)
    workflows, finding = _workflows(settings.workflows_dir)
    yield finding
    if not sites:
        yield Finding(
            False, "tracker",
            "no tracker is configured (BRIDGE_JIRA_URL, BRIDGE_REDMINE_URL or BRIDGE_SITES_FILE): "
            "the bridge would only judge, never act",
        )
        return
    for where, tracker in sites:
        async for found in _site(where, tracker, workflows, ticket):
            yield found


async def _site(
    where: str, tracker: Tracker, workflows: WorkflowSet | None, ticket: str | None
) -> AsyncIterator[Finding]:
    problem = await tracker.check()
    if problem is not None:
        yield Finding(False, "tracker", f"{where}: {problem.text}")
        return
    yield Finding(True, "tracker", f"{where} accepts the bridge as {', '.join(sorted(await tracker.identity()))}")
    if ticket and isinstance(tracker, JiraTracker):
        yield await _permissions(tracker, ticket)
    if workflows is not None and isinstance(tracker, JiraTracker):
        yield await _statuses(tracker, workflows)


def database(url: str) -> Finding:
    """Whether the database is there and migrated, without creating or changing it."""
    from bridge.store import create_db_engine

    shown = make_url(url).render_as_string(hide_password=True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.exists():
            folder = next((p for p in path.parents if p.exists()), Path("."))
            return Finding(True, "database", f"{shown} does not exist yet; `bridge serve` creates it in {folder.resolve()}")
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
    except Exception as exc:
        cause = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        return Finding(False, "database", f"cannot connect to {shown}: {cause} (check BRIDGE_DATABASE_URL)")
    finally:
        engine.dispose()
    if "deliveries" not in tables:
        return Finding(True, "database", f"{shown} is reachable and empty; `bridge serve` creates the tables")
    return Finding(True, "database", f"{shown} is reachable and holds the bridge's tables")


def _workflows(folder: Path) -> tuple[WorkflowSet | None, Finding]:
    found, problems = check_paths([folder])
    if problems or found is None:
        first = "; ".join(str(p) for p in problems[:3])
        more = f" (and {len(problems) - 3} more: run `bridge check`)" if len(problems) > 3 else ""
        return None, Finding(False, "workflows", first + more)
    return found, Finding(True, "workflows", f"{', '.join(found.names)} from {folder}")


async def _permissions(tracker: JiraTracker, ticket: str) -> Finding:
    try:
        allowed = await tracker.permissions_on(ticket)
    except Exception as exc:
        return Finding(False, f"permissions on {ticket}", f"cannot be read: {exc}")
    missing = [what for what, ok in allowed.items() if not ok]
    if missing:
        return Finding(
            False,
            f"permissions on {ticket}",
            f"the bridge's account may not {', '.join(missing)}: grant it in the project's "
            "permission scheme (Browse projects, Transition issues, Add comments, Edit issues)",
        )
    return Finding(True, f"permissions on {ticket}", ", ".join(allowed))


async def _statuses(tracker: JiraTracker, workflows: WorkflowSet) -> Finding:
    try:
        known = await tracker.status_names()
    except Exception as exc:
        return Finding(False, "statuses", f"cannot be read: {exc}")
    by_fold = {name.casefold(): name for name in known}
    missing = []
    for wf in workflows:
        for name in wf.statuses.values():
            if name.casefold() not in by_fold:
                close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                missing.append(f"'{name}' of workflow {wf.name}{hint}")
    if missing:
        return Finding(False, "statuses", "Jira has no status " + "; ".join(missing))
    return Finding(True, "statuses", f"every status the workflows name exists in Jira ({len(known)} there)")


async def diagnose(settings: Settings, ticket: str | None, say: Callable[[str], object]) -> bool:
    """`bridge doctor`: every finding said, one line each, for every configured site;
    whether all were OK."""
    from bridge.app import retry_policy
    from bridge.sites import SitesError, sites_from_settings
    from bridge.trackers.kinds import kinds

    try:
        configs = sites_from_settings(settings)
    except SitesError as exc:
        for problem in exc.problems:
            say(f"FAIL  sites: {problem}")
        return False
    connections = [kinds()[c.kind].connect(c, settings, retry_policy(settings), None) for c in configs]
    where = [f"{c.kind} at {c.url}" + (f" (site {c.name})" if len(configs) > 1 else "") for c in configs]
    healthy = True
    try:
        async for finding in examine(settings, [(w, c.tracker) for w, c in zip(where, connections)], ticket):
            say(str(finding))
            healthy = healthy and finding.ok
    finally:
        for connection in connections:
            await connection.client.aclose()
    return healthy

"""A site's billable work without Jira: a fake tracker answering searches with plain
tickets, and a ledger on SQLite, for the billing service and the jobs that use it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bridge.billing.export import Billing
from bridge.billing.model import Period
from bridge.engine import Actor, Role, StatusChange, WorkedTicket, Worklog
from bridge.store import Ledger, create_db_engine, migrate
from bridge.trackers.base import Search, TrackerRejected, TrackerUnavailable
from bridge.workflows import load_file

PRAGUE = ZoneInfo("Europe/Prague")
SERVICE = load_file(Path(__file__).resolve().parents[2] / "workflows" / "service-sheet.yaml")
OCTOBER = Period(date(2026, 10, 1), date(2026, 10, 31), PRAGUE)
NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30), PRAGUE)
AGENT = Actor("agent-1", "Petr", Role.AGENT)
BRIDGE = Actor("bridge-bot", "ticket-bridge")


def at(day: int, month: int = 10) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=PRAGUE)


def sheet(key: str, done: datetime, *worklogs: Worklog, status: str = "Hotovo") -> WorkedTicket:
    history = (
        StatusChange(f"{key}-1", done - timedelta(days=6), AGENT, "Realizace", "Ke schválení"),
        StatusChange(f"{key}-2", done, BRIDGE, "Ke schválení", "Schváleno"),
        StatusChange(f"{key}-3", done, BRIDGE, "Schváleno", "Hotovo"),
    )
    return WorkedTicket(key, f"Sestava {key}", "Servis", "ACME", "Jana", status, history, worklogs, "SRV")


def logged(ident: str, seconds: int, day: int = 5) -> Worklog:
    return Worklog(ident, "Petr", at(day), seconds, "práce")


class Jira:
    """Answers searches with the tickets it holds; `refuse` answers them with a 400."""

    name = "jira"

    def __init__(self, *tickets: WorkedTicket) -> None:
        self.tickets = {t.key: t for t in tickets}
        self.searches: list[Search] = []
        self.refuse: TrackerRejected | None = None
        self.fail_after: int | None = None

    async def identity(self) -> frozenset[str]:
        return frozenset({"bridge-bot"})

    async def role_of(self, actor: Actor) -> Role:
        return actor.role

    async def worked(self, wanted: Search) -> AsyncIterator[WorkedTicket]:
        self.searches.append(wanted)
        if self.refuse is not None:
            raise self.refuse
        for count, ticket in enumerate(self.tickets.values()):
            if self.fail_after is not None and count >= self.fail_after:
                raise TrackerUnavailable("GET /rest/api/3/search/jql: 503")
            yield ticket


@pytest.fixture
def ledger(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'bridge.db'}")
    migrate(engine)
    yield Ledger(engine)
    engine.dispose()


def service(jira: Jira, ledger: Ledger, warnings: list[str] | None = None) -> Billing:
    return Billing(jira, ledger, lambda: [SERVICE], warn=(warnings if warnings is not None else []).append)  # type: ignore[arg-type]

"""Development items coming back: which tickets are queued, and when nothing is."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from bridge.devlinks.base import ItemChange
from bridge.engine import Actor, DevItem, Event, Kind, Role, Rule, Verdict
from bridge.jobs.devitems import Development
from bridge.judging import Judge
from bridge.store import JobRecords, Store, create_db_engine, migrate
from bridge.store.links import Links
from bridge.trackers.base import TrackerUnavailable
from bridge.workflows.loader import WorkflowSet
from tests.billing.fakes import SERVICE


class Boards:
    """A provider whose items are a dict; counts the calls and their sizes."""

    name = "azure-devops"

    def __init__(self, **states: str) -> None:
        self.states = states
        self.calls: list[int] = []
        self.down = False

    async def items(self, ids: Sequence[str]) -> dict[str, DevItem]:
        self.calls.append(len(ids))
        if self.down:
            raise TrackerUnavailable("503 from dev.azure.com")
        return {i: DevItem(i, self.states[i]) for i in ids if i in self.states}

    async def link_back(self, item: str, ticket: str, ticket_url: str) -> None:
        pass


@pytest.fixture
def engine(tmp_path):
    engine = create_db_engine(f"sqlite:///{tmp_path / 'bridge.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def queued(engine) -> list[str]:
    store = Store(engine)
    return sorted(row["delivery_key"] for row in store.list_deliveries(None, 1000))


def development(engine, boards: Boards) -> Development:
    return Development({"azure-devops": boards}, Links(engine), JobRecords(engine))


def test_an_item_that_reached_a_new_state_queues_each_of_its_tickets_once(engine):
    dev = development(engine, Boards())
    for ticket in ("SRV-1", "SRV-2"):
        dev.links.add("jira", ticket, "azure-devops", "4711", "Committed", False, "service-sheet")
    assert dev.changed("azure-devops", ItemChange("4711", "Done")) == ["SRV-1", "SRV-2"]
    assert dev.changed("azure-devops", ItemChange("4711", "Done")) == []  # the same state again
    assert queued(engine) == ["devitem:azure-devops:4711:Done:SRV-1", "devitem:azure-devops:4711:Done:SRV-2"]
    assert dev.changed("azure-devops", ItemChange("9999", "Done")) is None  # no ticket hangs on it


def test_a_hook_about_anything_but_the_state_queues_nothing(engine):
    dev = development(engine, Boards())
    dev.links.add("jira", "SRV-1", "azure-devops", "4711", "Committed", False, "service-sheet")
    assert dev.changed("azure-devops", ItemChange("4711", "Committed")) == []
    assert queued(engine) == []


async def test_polling_reads_open_items_in_batches_and_queues_those_that_changed(engine):
    states = {str(n): "Committed" for n in range(1000, 1450)}
    states["1200"] = "Done"
    boards = Boards(**states)
    dev = development(engine, boards)
    for item in states:
        dev.links.add("jira", f"SRV-{item}", "azure-devops", item, "Committed", False, "service-sheet")
    dev.links.add("jira", "SRV-9", "azure-devops", "777", "Done", True, "service-sheet")  # done: not read
    polled = await dev.poll()
    assert boards.calls == [200, 200, 50] and polled.items == 450
    assert polled.queued == ["SRV-1200"]
    assert (await dev.poll()).queued == []  # nothing new since


async def test_an_unreachable_provider_is_said_so_and_an_unconfigured_one_too(engine):
    boards = Boards(**{"4711": "Done"})
    dev = development(engine, boards)
    assert (await dev.items("azure-devops", ["4711"])).found["4711"].state == "Done"
    boards.down = True
    assert "503" in (await dev.items("azure-devops", ["4711"])).unreachable
    assert not (await dev.items("jira", ["DEV-1"])).configured


class NoTracker:
    name = "jira"

    async def own_change(self, actor: Actor) -> bool:
        return False


async def test_a_jira_delivery_about_a_linked_development_issue_queues_its_tickets(engine):
    dev = Development({}, Links(engine), JobRecords(engine))
    dev.links.add("jira", "TGS-5", "jira", "DEV-12", "In Progress", False, "targito-support")
    judge = Judge(Store(engine), NoTracker(), lambda: WorkflowSet([SERVICE]), development=dev)  # type: ignore[arg-type]
    moved = Event(tracker="jira", kind=Kind.STATUS_CHANGED, ticket="DEV-12", project="DEV", issue_type="Story",
                  actor=Actor("dev-1", "Vývojář", Role.AGENT), from_status="In Progress", to_status="Done",
                  at=datetime.now(UTC))
    _, decision = await judge.judge(moved)
    assert (decision.verdict, decision.rule) == (Verdict.IGNORED, Rule.DEV_CHANGED)
    assert "TGS-5" in decision.reason
    assert queued(engine) == ["devitem:jira:DEV-12:Done:TGS-5"]

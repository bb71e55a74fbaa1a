"""The development links on real databases: SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bridge.store import Link, Links, create_db_engine, migrate
from tests.databases import database_url

ADO = "azure-devops"


@pytest.fixture(params=["sqlite", "postgresql"])
def links(request, tmp_path):
    with database_url(request.param, tmp_path) as url:
        engine = create_db_engine(url)
        migrate(engine)
        yield Links(engine)
        engine.dispose()


def test_a_link_is_added_once_and_read_back_from_both_ends(links):
    before = datetime.now(UTC)
    assert links.add("jira", "SRV-7", ADO, "4711", "Committed", False) is True
    (link,) = links.of_ticket("jira", "SRV-7")
    assert link == Link("jira", "SRV-7", ADO, "4711", "Committed", False, link.linked_at)
    assert before - timedelta(seconds=1) <= link.linked_at <= datetime.now(UTC)
    assert links.tickets_of(ADO, "4711") == [link]


def test_linking_again_updates_the_state_and_keeps_one_link(links):
    links.add("jira", "SRV-7", ADO, "4711", "Committed", False)
    first = links.of_ticket("jira", "SRV-7")[0].linked_at
    assert links.add("jira", "SRV-7", ADO, "4711", "Done", True) is False
    (link,) = links.of_ticket("jira", "SRV-7")
    assert (link.state, link.done, link.linked_at) == ("Done", True, first)


def test_a_ticket_on_several_items_and_an_item_under_several_tickets(links):
    links.add("jira", "SRV-7", ADO, "4711", None, False)
    links.add("jira", "SRV-7", ADO, "4712", "New", False)
    links.add("jira", "SRV-9", ADO, "4711", None, False)
    links.add("redmine", "SRV-7", ADO, "4711", None, False)  # another tracker's ticket
    links.add("jira", "SRV-8", "jira", "4711", None, False)  # another provider's item
    assert [l.item for l in links.of_ticket("jira", "SRV-7")] == ["4711", "4712"]
    assert [(l.tracker, l.ticket) for l in links.tickets_of(ADO, "4711")] == [
        ("jira", "SRV-7"), ("jira", "SRV-9"), ("redmine", "SRV-7"),
    ]
    assert links.of_ticket("jira", "SRV-1") == [] and links.tickets_of(ADO, "1") == []


def test_set_state_reaches_every_ticket_on_the_item_and_no_other(links):
    links.add("jira", "SRV-7", ADO, "4711", "Committed", False)
    links.add("jira", "SRV-9", ADO, "4711", "Committed", False)
    links.add("jira", "SRV-9", ADO, "4712", "Committed", False)
    links.set_state(ADO, "4711", "Done", True)
    assert {(l.ticket, l.state, l.done) for l in links.tickets_of(ADO, "4711")} == {
        ("SRV-7", "Done", True), ("SRV-9", "Done", True),
    }
    assert links.tickets_of(ADO, "4712")[0].state == "Committed"


def test_open_items_page_through_the_items_not_done_each_once(links):
    for n in range(1, 8):
        links.add("jira", f"SRV-{n}", ADO, f"10{n}", None, False)
    links.add("jira", "SRV-99", ADO, "101", None, False)  # a second ticket on an open item
    links.add("jira", "SRV-50", ADO, "104", "Done", True)
    links.set_state(ADO, "104", "Done", True)
    links.add("jira", "SRV-60", "jira", "DEV-1", None, False)
    pages, after = [], None
    while page := links.open_items(ADO, after=after, limit=3):
        pages.append(page)
        after = page[-1]
    assert pages == [["101", "102", "103"], ["105", "106", "107"]]
    assert links.open_items("jira") == ["DEV-1"]


def test_an_item_done_on_one_ticket_but_not_another_is_still_polled(links):
    links.add("jira", "SRV-1", ADO, "4711", "Done", True)
    links.add("jira", "SRV-2", ADO, "4711", "Committed", False)
    assert links.open_items(ADO) == ["4711"]


def test_text_no_column_can_hold_is_kept_as_it_fits(links):
    assert links.add("jira", "SRV-\x001", ADO, "47\x0011", "Do\x00ne" + "x" * 300, False)
    (link,) = links.of_ticket("jira", "SRV-1")
    assert (link.ticket, link.item, len(link.state)) == ("SRV-1", "4711", 255)
    assert links.tickets_of(ADO, "47\x0011") == [link]


def test_two_workers_linking_the_same_pair_at_once_make_one_link(links):
    results: list[bool] = []
    start = threading.Barrier(8)

    def link() -> None:
        start.wait()
        results.append(links.add("jira", "SRV-7", ADO, "4711", "Committed", False))

    threads = [threading.Thread(target=link) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    assert len(links.of_ticket("jira", "SRV-7")) == 1


def test_a_link_remembers_the_workflow_that_judges_its_ticket_again(links):
    links.add("jira", "SRV-1", "azure-devops", "4711", "Committed", False, "service-sheet")
    links.add("jira", "SRV-1", "azure-devops", "4711", "Done", True)  # an update keeps it
    (link,) = links.tickets_of("azure-devops", "4711")
    assert (link.workflow, link.state, link.done) == ("service-sheet", "Done", True)

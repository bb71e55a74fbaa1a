"""What periodic jobs read of Redmine: issues page by page, their journals as status history,
their time entries as worklogs; and what each costs in calls."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
import respx

from bridge.engine import Kind
from bridge.trackers.base import NotOnSite, Search, TrackerRejected
from bridge.trackers.http import counting_attempts
from tests.trackers.test_redmine import BASE, answer, issue, tracker

SINCE = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)


def listed(ident: int, updated: str = "2026-11-24T16:04:06Z") -> dict:
    found = copy.deepcopy(answer("issues_page.json")["issues"][0])
    found.update(id=ident, updated_on=updated)
    return found


def page(issues: list[dict], total: int, offset: int) -> dict:
    return {"issues": issues, "total_count": total, "offset": offset, "limit": 100}


@pytest.fixture
def redmine():
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.get("/issue_statuses.json").respond(json=answer("issue_statuses.json"))
        router.get("/users/current.json").respond(json=answer("users_current.json"))
        router.get("/trackers.json").respond(json={"trackers": [{"id": 4, "name": "Servis"}, {"id": 1, "name": "Bug"}]})
        router.get("/projects.json").respond(json={"projects": [{"id": 2, "name": "Podpora", "identifier": "podpora"}],
                                                   "total_count": 1})
        router.get(url__regex=r"/issues/\d+\.json", name="issue").respond(json=answer("issue_with_journals.json"))
        yield router


async def test_a_polling_pass_costs_a_list_call_per_100_issues_and_one_per_changed_issue(redmine):
    first, second = [listed(i) for i in range(1, 101)], [listed(i) for i in range(101, 151)]
    pages = redmine.get("/issues.json")
    pages.side_effect = [respx.MockResponse(json=page(first, 150, 0)), respx.MockResponse(json=page(second, 150, 100))]
    t = tracker()
    await t.check()
    with counting_attempts() as calls:
        found = [f async for f in t.search(Search(updated_since=SINCE, with_history=True))]
    assert len(found) == 150 and calls == [2 + 150]
    asked = [dict(c.request.url.params) for c in pages.calls]
    assert asked[0] == {"status_id": "*", "sort": "updated_on,id", "updated_on": ">=2026-11-24T16:00:00Z",
                        "limit": "100", "offset": "0"}
    assert asked[1]["offset"] == "100"
    history = found[0].history
    assert [(c.id, c.from_status, c.to_status, c.actor.id) for c in history] == [
        ("21", "Nový", "Realizace", "7"), ("22", "Realizace", "Na klientovi", "7"), ("23", "Na klientovi", "Hotovo", "6")]


async def test_search_by_names_and_without_history_one_call(redmine):
    pages = redmine.get("/issues.json").respond(json=page([listed(9)], 1, 0))
    t = tracker()
    await t.check()
    found = [f async for f in t.search(Search(statuses=["Na klientovi", "hotovo"], issue_types=["Servis"],
                                              projects=["Podpora"]))]
    assert [(f.ticket.key, f.ticket.status, f.project, f.issue_type, f.history) for f in found] == [
        ("9", "Hotovo", "Podpora", "Servis", None)]
    assert found[0].updated == datetime(2026, 11, 24, 16, 4, 6, tzinfo=UTC)
    params = dict(pages.calls[0].request.url.params)
    assert (params["status_id"], params["tracker_id"], params["project_id"]) == ("12|16", "4", "2")


async def test_an_issue_updated_during_the_sweep_is_yielded_once(redmine):
    pages = redmine.get("/issues.json")
    pages.side_effect = [respx.MockResponse(json=page([listed(i) for i in range(1, 101)], 101, 0)),
                         respx.MockResponse(json=page([listed(100)], 101, 100))]
    found = [f.ticket.key async for f in tracker().search(Search())]
    assert len(found) == 100 and len(set(found)) == 100


@pytest.mark.parametrize("wanted,what", [(Search(issue_types=["Incident"]), "tracker"),
                                         (Search(projects=["Jinde"]), "project"),
                                         (Search(statuses=["Neznámý"]), "status")])
async def test_names_redmine_does_not_have_are_refused(redmine, wanted, what):
    with pytest.raises(TrackerRejected, match=f"no {what} named"):
        [f async for f in tracker().search(wanted)]


@pytest.mark.parametrize("wanted", [Search(issue_types=["Incident", "Problem"]), Search(projects=["Jinde"]),
                                    Search(request_types=["Něco mi nefunguje"])])
async def test_a_workflow_of_another_sites_types_finds_nothing_here_without_listing(redmine, wanted):
    """Types or projects this Redmine has none of (a workflow meant for a Jira site): the
    periodic jobs pass it over, and no issue is listed or read for it."""
    listing = redmine.get("/issues.json").respond(json=page([listed(1)], 1, 0))
    with pytest.raises(NotOnSite):
        [f async for f in tracker().search(wanted)]
    assert not listing.called


async def test_known_names_are_searched_when_some_are_not(redmine):
    listing = redmine.get("/issues.json").respond(json=page([], 0, 0))
    assert [f async for f in tracker().search(Search(issue_types=["Incident", "Servis"]))] == []
    assert listing.calls.last.request.url.params["tracker_id"] == "4"


async def test_worked_bills_time_entries_of_the_issue_itself(redmine):
    redmine.get("/issues.json").respond(json=page([listed(9)], 1, 0))
    entries = answer("time_entries.json")
    subtask = copy.deepcopy(entries["time_entries"][0])
    subtask.update(id=3, issue={"id": 11}, hours=0.25)  # Redmine lists a sub-task's time with its parent's
    entries["time_entries"].append(subtask)
    entries["total_count"] = 2
    route = redmine.get("/time_entries.json").respond(json=entries)
    t = tracker()
    worked = [w async for w in t.worked(Search(projects=["Podpora"]))]
    assert len(worked) == 1
    ticket = worked[0]
    assert (ticket.key, ticket.summary, ticket.issue_type, ticket.organization, ticket.reporter, ticket.status) == (
        "9", "Faktura se neodeslala zákazníkovi", "Servis", "Podpora", "Bridge Bot", "Hotovo")
    assert [(w.id, w.author, w.seconds, w.started, w.comment) for w in ticket.worklogs] == [
        ("2", "Bridge Bot", 5400, datetime(2026, 11, 24, 12, 0, tzinfo=UTC), "Analýza exportu")]
    assert [c.to_status for c in ticket.history] == ["Realizace", "Na klientovi", "Hotovo"]
    assert dict(route.calls[0].request.url.params) == {"issue_id": "9", "limit": "100", "offset": "0"}


async def test_a_change_found_by_polling_is_parsed_as_the_webhook_would_have_delivered_it(redmine):
    redmine.get("/issues.json").respond(json=page([listed(9)], 1, 0))
    t = tracker()
    found = [f async for f in t.search(Search(with_history=True))][0]
    change = found.history[-1]
    event = t.parse(json.dumps(t.delivery_of(found, change)).encode())
    assert (event.kind, event.ticket, event.change_id, event.from_status, event.to_status, event.actor.id) == (
        Kind.STATUS_CHANGED, "9", "23", "Na klientovi", "Hotovo", "6")
    assert (event.project, event.issue_type, event.at) == ("Podpora", "Servis", change.at)


async def test_history_names_a_status_that_is_gone_by_its_id(redmine):
    journals = answer("issue_with_journals.json")["issue"]["journals"]
    journals[0]["details"][0]["old_value"] = "99"
    redmine["issue"].respond(json=issue(journals=journals))
    statuses = redmine.get("/issue_statuses.json").respond(json=answer("issue_statuses.json"))
    history = await tracker().history("9")
    assert history[0].from_status == "#99" and history[0].to_status == "Realizace"
    assert statuses.call_count == 1  # read again once, for the unknown id

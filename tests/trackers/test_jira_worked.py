"""Billable work read through the Jira adapter: tickets with their history and every worklog,
the customer's organisation, on Cloud and Data Center (HTTP faked with respx, then through
the stand-in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from bridge.trackers.base import OfflineTracker, Search, TrackerRejected
from bridge.trackers.http import RestClient, RetryPolicy
from bridge.trackers.jira import JiraTracker, parse_body
from bridge.trackers.jira_worklogs import ORGANIZATIONS_TYPE
from tests.standin import JiraStandin, create_app

BASE = "https://jira.test"
FAST = RetryPolicy(attempts=3, backoff=0.0, backoff_max=0.05)
CLOUD, DC = f"{BASE}/rest/api/3", f"{BASE}/rest/api/2"
ORGS = "customfield_10002"
FIELDS = [
    {"id": "summary", "key": "summary", "name": "Summary", "custom": False,
     "schema": {"type": "string", "system": "summary"}},
    {"id": ORGS, "key": ORGS, "name": "Organizations", "custom": True,
     "schema": {"type": "array", "items": "sd-customerorganization", "custom": ORGANIZATIONS_TYPE,
                "customId": 10002}},
]
AGENT = {"accountId": "5b10-agent", "accountType": "atlassian", "displayName": "Petr Dvořák"}
JANA = {"accountId": "qm:1f0c", "accountType": "customer", "displayName": "Jana Nováková",
        "emailAddress": "jana@pekarna-novak.cz"}
DONE = {"id": "1", "author": AGENT, "created": "2026-11-18T10:00:00.000+0100",
        "items": [{"field": "status", "fieldId": "status", "fromString": "Realizace", "toString": "Hotovo"}]}


def tracker(deployment: str = "cloud") -> JiraTracker:
    return JiraTracker(RestClient(BASE, user="bot@x", token="t"), deployment=deployment, retry=FAST)


def logged(n: int, comment: object = None) -> dict:
    entry = {"id": str(10000 + n), "author": AGENT, "started": f"2026-11-{1 + n % 28:02d}T09:00:00.000+0100",
             "timeSpentSeconds": 900 + n}
    return entry if comment is None else {**entry, "comment": comment}


def page(worklogs: list[dict], total: int | None = None, start: int = 0) -> dict:
    return {"startAt": start, "maxResults": max(len(worklogs), 20),
            "total": len(worklogs) if total is None else total, "worklogs": worklogs}


def issue(key: str, worklogs: dict, orgs: list | None = None, reporter: dict | None = JANA) -> dict:
    fields = {"summary": f"Práce na {key}", "issuetype": {"name": "Servis"}, "status": {"name": "Hotovo"},
              "project": {"key": key.split("-")[0]}, "updated": "2026-11-20T16:02:41.508+0100",
              "reporter": reporter, "worklog": worklogs, ORGS: orgs}
    return {"id": "1" + key.split("-")[1], "key": key, "fields": fields,
            "changelog": {"startAt": 0, "maxResults": 1, "total": 1, "histories": [DONE]}}


async def every(source: JiraTracker | OfflineTracker, **conditions) -> list:
    return [ticket async for ticket in source.worked(Search(**conditions))]


# -- Cloud -----------------------------------------------------------------------------------
@respx.mock
async def test_cloud_reads_pages_of_tickets_with_history_and_all_their_worklogs():
    fields = respx.get(f"{CLOUD}/field").respond(json=FIELDS)
    search = respx.get(f"{CLOUD}/search/jql")
    many = [logged(n) for n in range(45)]
    search.side_effect = [
        httpx.Response(200, json={"issues": [
            issue("SRV-1", page([logged(1, {"type": "doc", "version": 1, "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "Oprava tiskárny"}]}]})]),
                  orgs=[{"id": 1, "name": "Pekárna Novák"}, {"id": 2, "name": "Novák a syn"}])],
            "nextPageToken": "p2", "isLast": False}),
        httpx.Response(200, json={"issues": [issue("SRV-2", page(many[:20], total=45))], "isLast": True}),
    ]
    rest = respx.get(f"{CLOUD}/issue/SRV-2/worklog")
    rest.side_effect = [httpx.Response(200, json=page(many[:30], total=45)),  # Jira gave fewer than asked
                        httpx.Response(200, json=page(many[30:], total=45, start=30))]

    one, two = await every(tracker(), statuses=["Hotovo"], projects=["SRV"])

    sent = search.calls[0].request.url.params
    assert set(sent["fields"].split(",")) == {
        "summary", "issuetype", "reporter", "status", "project", "worklog", "updated", ORGS}
    assert sent["expand"] == "changelog"
    assert [call.request.url.params.get("nextPageToken") for call in search.calls] == [None, "p2"]
    assert (one.key, one.summary, one.issue_type, one.status) == ("SRV-1", "Práce na SRV-1", "Servis", "Hotovo")
    assert (one.organization, one.reporter) == ("Pekárna Novák, Novák a syn", "Jana Nováková")
    assert [(w.id, w.author, w.seconds, w.comment) for w in one.worklogs] == [
        ("10001", "Petr Dvořák", 901, "Oprava tiskárny")]
    assert one.worklogs[0].started.utcoffset() == timedelta(hours=1)
    assert [(c.id, c.to_status) for c in one.history] == [("1", "Hotovo")]
    assert [w.id for w in two.worklogs] == [w["id"] for w in many]  # every one, once, in order
    assert [(c.request.url.params["startAt"], c.request.url.params["maxResults"]) for c in rest.calls] == [
        ("0", "1000"), ("30", "1000")]
    assert fields.call_count == 1


@respx.mock
async def test_the_organisations_field_is_looked_up_once_per_tracker():
    fields = respx.get(f"{CLOUD}/field").respond(json=FIELDS)
    respx.get(f"{CLOUD}/search/jql").respond(json={"issues": [issue("SRV-1", page([]))], "isLast": True})
    jira = tracker()
    for _ in range(3):
        assert [t.organization for t in await every(jira, projects=["SRV"])] == ["pekarna-novak.cz"]
    assert fields.call_count == 1
    await every(tracker(), projects=["SRV"])  # another site's tracker asks its own
    assert fields.call_count == 2


@respx.mock
async def test_a_ticket_in_no_organisation_is_billed_to_its_reporters_domain():
    respx.get(f"{CLOUD}/field").respond(json=FIELDS)
    respx.get(f"{CLOUD}/search/jql").respond(json={"isLast": True, "issues": [
        issue("SRV-1", page([]), orgs=[]), issue("SRV-2", page([]), reporter={**JANA, "emailAddress": ""}),
        issue("SRV-3", page([]), reporter=None)]})
    found = await every(tracker(), projects=["SRV"])
    assert [(t.organization, t.reporter) for t in found] == [
        ("pekarna-novak.cz", "Jana Nováková"), ("", "Jana Nováková"), ("", "")]


# -- Data Center -----------------------------------------------------------------------------
@respx.mock
async def test_data_center_pages_by_offset_and_a_site_without_organisations_uses_domains():
    fields = respx.get(f"{DC}/field").respond(json=FIELDS[:1])
    search = respx.get(f"{DC}/search")
    dana = {"name": "dsvobodova", "key": "JIRAUSER10412", "displayName": "Dana Svobodová",
            "emailAddress": "dana@Svoboda.example"}
    search.side_effect = [
        httpx.Response(200, json={"startAt": 0, "maxResults": 1, "total": 2, "issues": [
            issue("TGS-1", page([logged(1, "Výměna disku")]), reporter=dana)]}),
        httpx.Response(200, json={"startAt": 1, "maxResults": 1, "total": 2, "issues": [
            issue("TGS-2", page([logged(n) for n in range(20)], total=21), reporter=dana)]}),
    ]
    rest = respx.get(f"{DC}/issue/TGS-2/worklog").respond(json=page([logged(n) for n in range(21)]))

    one, two = await every(tracker("datacenter"), projects=["TGS"])

    sent = search.calls[0].request.url.params
    assert set(sent["fields"].split(",")) == {
        "summary", "issuetype", "reporter", "status", "project", "worklog", "updated"}
    assert [call.request.url.params["startAt"] for call in search.calls] == ["0", "1"]
    assert (one.organization, one.reporter, one.worklogs[0].comment) == (
        "svoboda.example", "Dana Svobodová", "Výměna disku")
    assert len(two.worklogs) == 21 and rest.call_count == 1 and fields.call_count == 1


# -- refusals --------------------------------------------------------------------------------
@respx.mock
async def test_a_worklog_without_seconds_in_a_search_is_a_refusal_naming_the_search():
    respx.get(f"{CLOUD}/field").respond(json=FIELDS)
    broken = {**logged(1), "timeSpentSeconds": None, "timeSpent": "2h"}
    respx.get(f"{CLOUD}/search/jql").respond(json={"issues": [issue("SRV-1", page([broken]))], "isLast": True})
    with pytest.raises(TrackerRejected, match=r"GET /rest/api/3/search/jql .*SRV-1.*timeSpentSeconds"):
        await every(tracker(), projects=["SRV"])


@respx.mock
async def test_an_unusable_worklog_page_is_a_refusal_naming_the_call():
    respx.get(f"{DC}/field").respond(json=[])
    respx.get(f"{DC}/search").respond(json={"startAt": 0, "total": 1, "issues": [
        issue("TGS-1", page([], total=3))]})
    respx.get(f"{DC}/issue/TGS-1/worklog").respond(json={"worklogs": "none"})
    with pytest.raises(TrackerRejected, match=r"GET /rest/api/2/issue/TGS-1/worklog .*worklogs"):
        await every(tracker("datacenter"), projects=["TGS"])


@respx.mock
async def test_an_unusable_fields_answer_is_a_refusal_naming_the_call():
    respx.get(f"{CLOUD}/field").respond(json={"errorMessages": []})
    search = respx.get(f"{CLOUD}/search/jql")
    with pytest.raises(TrackerRejected, match=r"GET /rest/api/3/field answered unusable fields"):
        await every(tracker(), projects=["SRV"])
    assert search.call_count == 0


async def test_without_a_tracker_there_is_no_work_to_bill():
    assert await every(OfflineTracker("jira", parse_body), projects=["SRV"]) == []


# -- through the stand-in --------------------------------------------------------------------
def through(standin: JiraStandin) -> JiraTracker:
    transport = httpx.ASGITransport(app=create_app(standin))
    client = RestClient(BASE, transport=transport, user="bridge", token="t")
    return JiraTracker(client, deployment=standin.deployment, retry=FAST)


def site(deployment: str, count: int = 150) -> JiraStandin:
    """`count` billed tickets, every seventh with more worklogs than a search shows."""
    standin = JiraStandin(deployment=deployment)
    for n in range(1, count + 1):
        logged = [{"started": (datetime(2026, 11, 2, 8, tzinfo=UTC) + timedelta(hours=k)).isoformat(),
                   "seconds": 600 * (k + 1), "by": AGENT, "comment": f"Práce {k}"}
                  for k in range(25 if n % 7 == 0 else n % 4)]
        standin.add_issue({
            "key": f"SRV-{n}", "status": "Hotovo", "fields": {"summary": f"Ticket {n}"},
            "reporter": {**JANA, "emailAddress": f"jana@firma{n % 3}.cz"}, "worklogs": logged,
            "organizations": ["Pekárna Novák"] if n % 2 else [],
            "history": [{"from": "Realizace", "to": "Hotovo", "by": AGENT, "at": "2026-11-01T10:00:00+01:00"}]})
    return standin


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
async def test_every_worklog_of_a_site_is_read_with_a_call_a_page_and_one_per_long_ticket(deployment):
    standin = site(deployment)
    found = await every(through(standin), statuses=["Hotovo"], projects=["SRV"])

    assert len(found) == 150
    for ticket in found:
        kept = standin.issue_state(standin.issues[ticket.key])
        assert [(w.id, w.seconds, w.comment) for w in ticket.worklogs] == [
            (w["id"], w["seconds"], w["comment"]) for w in kept["worklogs"]]
        number = int(ticket.key.split("-")[1])
        assert ticket.organization == ("Pekárna Novák" if number % 2 else f"firma{number % 3}.cz")
        assert [c.to_status for c in ticket.history] == ["Hotovo"]
    (seventh,) = [ticket for ticket in found if ticket.key == "SRV-7"]
    assert len(seventh.worklogs) == 25 and seventh.worklogs[0].started == datetime(2026, 11, 2, 8, tzinfo=UTC)
    paths = [call["path"] for call in standin.calls]
    api = "/rest/api/3" if deployment == "cloud" else "/rest/api/2"
    search = f"{api}/search/jql" if deployment == "cloud" else f"{api}/search"
    assert paths.count(f"{api}/field") == 1 and paths.count(search) == 2  # 100 + 50 tickets
    assert sorted(p for p in paths if p.endswith("/worklog")) == sorted(
        f"{api}/issue/SRV-{n}/worklog" for n in range(7, 151, 7))

"""What periodic jobs read through the Jira adapter: searches page by page, status histories,
a ticket by key (HTTP faked with respx)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
import respx

from bridge.engine import Actor, Role
from bridge.trackers.base import OfflineTracker, Search, TrackerRejected, TrackerUnavailable
from bridge.trackers.http import RestClient, RetryPolicy
from bridge.trackers.jira import JiraTracker, parse_body, parse_delivery
from bridge.trackers.jql import search_jql
from tests.standin import JiraStandin, create_app

BASE = "https://jira.test"
FAST = RetryPolicy(attempts=3, backoff=0.0, backoff_max=0.05)
CLOUD_SEARCH = f"{BASE}/rest/api/3/search/jql"
DC_SEARCH = f"{BASE}/rest/api/2/search"
AGENT = {"accountId": "5b10-agent", "accountType": "atlassian", "displayName": "Petr Dvořák"}
CUSTOMER = {"accountId": "qm:1f0c", "accountType": "customer", "displayName": "Jana Nováková"}


def tracker(deployment: str = "cloud", retry: RetryPolicy = FAST) -> JiraTracker:
    return JiraTracker(RestClient(BASE, user="bot@x", token="t"), deployment=deployment, retry=retry)


def change(ident: int, created: str, to: str, frm: str | None = None, by: dict = AGENT) -> dict:
    """A changelog entry as Jira lists it, changing the status."""
    item = {"field": "status", "fieldtype": "jira", "fieldId": "status", "fromString": frm, "toString": to}
    return {"id": str(ident), "author": by, "created": created, "items": [item]}


def edit(ident: int, created: str) -> dict:
    """A changelog entry that changed another field only."""
    item = {"field": "priority", "fieldtype": "jira", "fieldId": "priority", "fromString": "Low",
            "toString": "High"}
    return {"id": str(ident), "author": AGENT, "created": created, "items": [item]}


def issue(key: str, updated: str = "2026-11-20T16:02:41.508+0100", status: str = "Ke schválení",
          histories: list[dict] | None = None, total: int | None = None) -> dict:
    fields = {"status": {"name": status}, "issuetype": {"name": "Servis"},
              "project": {"key": key.split("-")[0]}, "updated": updated}
    found = {"id": "1" + key.split("-")[1], "key": key, "fields": fields}
    if histories is not None:
        count = len(histories) if total is None else total
        found["changelog"] = {"startAt": 0, "maxResults": len(histories), "total": count,
                              "histories": histories}
    return found


async def every(tracker: JiraTracker | OfflineTracker, **conditions) -> list:
    return [found async for found in tracker.search(Search(**conditions))]


# -- JQL -------------------------------------------------------------------------------------
def test_jql_joins_the_conditions_and_orders_by_update_then_key():
    jql = search_jql(statuses=["Ke schválení"], issue_types=["Servis", "[System] Service request"],
                     projects=["SRV"])
    assert jql == ('status in ("Ke schválení") AND issuetype in ("Servis", "[System] Service request") '
                   'AND project in ("SRV") ORDER BY updated ASC, key ASC')


def test_jql_quotes_so_no_name_can_end_its_string():
    jql = search_jql(statuses=['Ke "schválení"', "C:\\", 'x") OR project in ("ALL'])
    assert jql.startswith(r'status in ("Ke \"schválení\"", "C:\\", "x\") OR project in (\"ALL") ')


def test_a_single_name_is_one_name_not_its_letters():
    assert search_jql(projects="SRV").startswith('project in ("SRV") ')


def test_the_time_is_written_in_utc_early_enough_for_every_time_zone():
    prague = timezone(timedelta(hours=1))
    jql = search_jql(since=datetime(2026, 11, 20, 16, 2, 41, tzinfo=prague))
    # 15:02 UTC, less the 12 hours the furthest zone west lags behind UTC
    assert jql == 'updated >= "2026/11/20 03:02" ORDER BY updated ASC, key ASC'
    with pytest.raises(ValueError, match="aware"):
        search_jql(since=datetime(2026, 11, 20, 16, 2))


# -- search ----------------------------------------------------------------------------------
@respx.mock
async def test_cloud_search_follows_the_page_tokens_to_the_end():
    route = respx.get(CLOUD_SEARCH)
    route.side_effect = [
        httpx.Response(200, json={"issues": [issue("SRV-1"), issue("SRV-2")], "nextPageToken": "p2",
                                  "isLast": False}),
        httpx.Response(200, json={"issues": [issue("SRV-3")], "nextPageToken": "p3", "isLast": False}),
        httpx.Response(200, json={"issues": [issue("SRV-4")], "isLast": True}),
    ]
    found = await every(tracker(), statuses=["Ke schválení"], fields=["customfield_10050"])
    assert [f.ticket.key for f in found] == ["SRV-1", "SRV-2", "SRV-3", "SRV-4"]
    sent = [call.request.url.params for call in route.calls]
    assert [p.get("nextPageToken") for p in sent] == [None, "p2", "p3"]
    assert sent[0]["jql"] == 'status in ("Ke schválení") ORDER BY updated ASC, key ASC'
    assert sent[0]["fields"] == "status,issuetype,project,updated,customfield_10050"
    assert sent[0]["maxResults"] == "100" and "expand" not in sent[0]
    first = found[0]
    assert (first.ticket.status, first.project, first.issue_type) == ("Ke schválení", "SRV", "Servis")
    assert first.history is None and first.ticket.transitions is None


@respx.mock
async def test_data_center_search_pages_by_offset_until_the_total():
    route = respx.get(DC_SEARCH)
    route.side_effect = [
        httpx.Response(200, json={"startAt": 0, "maxResults": 2, "total": 5,
                                  "issues": [issue("TGS-1"), issue("TGS-2")]}),
        httpx.Response(200, json={"startAt": 2, "maxResults": 2, "total": 5,
                                  "issues": [issue("TGS-3"), issue("TGS-4")]}),
        httpx.Response(200, json={"startAt": 4, "maxResults": 2, "total": 5, "issues": [issue("TGS-5")]}),
    ]
    found = await every(tracker("datacenter"), projects=["TGS"])
    assert [f.ticket.key for f in found] == ["TGS-1", "TGS-2", "TGS-3", "TGS-4", "TGS-5"]
    assert [call.request.url.params["startAt"] for call in route.calls] == ["0", "2", "4"]


@respx.mock
async def test_a_ticket_updated_during_the_sweep_is_found_once():
    route = respx.get(DC_SEARCH)
    route.side_effect = [  # TGS-2 was updated after the first page: the order puts it last
        httpx.Response(200, json={"startAt": 0, "total": 4, "issues": [issue("TGS-1"), issue("TGS-2")]}),
        httpx.Response(200, json={"startAt": 2, "total": 4, "issues": [issue("TGS-3"), issue("TGS-2")]}),
    ]
    found = await every(tracker("datacenter"), projects=["TGS"])
    assert [f.ticket.key for f in found] == ["TGS-1", "TGS-2", "TGS-3"]


@respx.mock
async def test_history_comes_with_the_search_and_is_read_alone_only_where_cut_short():
    complete = [change(10412, "2026-11-13T10:00:00.000+0100", "Ke schválení", "Realizace"),
                edit(10400, "2026-11-12T09:00:00.000+0100"),
                change(10390, "2026-11-11T08:00:00.000+0100", "Realizace", "Nový")]  # newest first
    newest = [change(20000 + n, f"2026-11-{20 - n // 10:02d}T10:{n % 10:02d}:00.000+0100", "Ke schválení")
              for n in range(40)]
    search = respx.get(CLOUD_SEARCH).respond(json={"issues": [
        issue("SRV-1", histories=complete), issue("SRV-2", histories=newest, total=45)], "isLast": True})
    whole = respx.get(f"{BASE}/rest/api/3/issue/SRV-2/changelog").respond(json={
        "startAt": 0, "maxResults": 100, "total": 2, "isLast": True,
        "values": [change(100, "2026-01-05T10:00:00.000+0100", "Realizace", "Nový"),
                   change(101, "2026-01-06T10:00:00.000+0100", "Ke schválení", "Realizace", CUSTOMER)]})

    one, two = await every(tracker(), statuses=["Ke schválení"], with_history=True)
    assert search.calls[0].request.url.params["expand"] == "changelog"
    assert (search.call_count, whole.call_count, len(respx.calls)) == (1, 1, 2)
    assert [(c.id, c.from_status, c.to_status) for c in one.history] == [
        ("10390", "Nový", "Realizace"), ("10412", "Realizace", "Ke schválení")]
    assert one.history[-1].at == datetime(2026, 11, 13, 9, 0, tzinfo=UTC)
    assert one.history[-1].actor == Actor("5b10-agent", "Petr Dvořák", Role.AGENT)
    assert [c.id for c in two.history] == ["100", "101"] and two.history[1].actor.role is Role.CUSTOMER


@respx.mock
async def test_a_refused_page_is_waited_for_as_jira_asks_and_the_sweep_goes_on():
    route = respx.get(CLOUD_SEARCH)
    route.side_effect = [
        httpx.Response(200, json={"issues": [issue("SRV-1")], "nextPageToken": "p2"}),
        httpx.Response(429, headers={"Retry-After": "0.3"}),
        httpx.Response(200, json={"issues": [issue("SRV-2")], "isLast": True}),
    ]
    patient = tracker(retry=RetryPolicy(attempts=3, backoff=0.0, backoff_max=5.0))
    started = time.monotonic()
    found = await every(patient, statuses=["Ke schválení"])
    assert [f.ticket.key for f in found] == ["SRV-1", "SRV-2"]
    assert time.monotonic() - started >= 0.3
    assert [call.request.url.params.get("nextPageToken") for call in route.calls] == [None, "p2", "p2"]


@respx.mock
async def test_times_are_compared_across_time_zones():
    since = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    respx.get(CLOUD_SEARCH).respond(json={"isLast": True, "issues": [
        issue("SRV-1", updated="2026-11-20T12:30:00.000+0100"),  # 11:30 UTC: only the overlap let it in
        issue("SRV-2", updated="2026-11-20T07:30:00.000-0500", histories=[  # 12:30 UTC
            change(5, "2026-11-20T06:20:00.000-0500", "Ke schválení", "Realizace"),  # 11:20 UTC
            change(7, "2026-11-20T12:10:00.000+0100", "Realizace", "Nový"),  # 11:10 UTC
        ]),
    ]})
    (found,) = await every(tracker(), updated_since=since, with_history=True)
    assert found.ticket.key == "SRV-2" and found.updated == datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
    assert [c.to_status for c in found.history] == ["Realizace", "Ke schválení"]
    assert found.history[1].at.utcoffset() == timedelta(hours=-5)  # as Jira wrote it


@respx.mock
async def test_an_issue_not_shaped_like_jiras_is_a_refusal_naming_the_call():
    respx.get(CLOUD_SEARCH).respond(json={"isLast": True, "issues": [
        issue("SRV-1", histories=[change(1, "20.11.2026 16:02", "Hotovo")])]})
    with pytest.raises(TrackerRejected, match=r"/rest/api/3/search/jql .*created"):
        await every(tracker(), projects=["SRV"], with_history=True)


# -- the page ahead --------------------------------------------------------------------------
Answer = Callable[[int, httpx.Response], Awaitable[httpx.Response]]


async def as_is(page: int, response: httpx.Response) -> httpx.Response:
    return response


def serve(deployment: str, pages: list[list[str]], answer: Answer = as_is) -> respx.Route:
    """The search of `deployment` answering `pages` of keys; `answer(n, response)` gives
    the answer to page n (from 0), and may hold it back or replace it."""
    starts = [sum(map(len, pages[:n])) for n in range(len(pages))]

    async def respond(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if deployment == "cloud":
            n = int(params.get("nextPageToken", "p1")[1:]) - 1
            more = {"nextPageToken": f"p{n + 2}"} if n + 1 < len(pages) else {}
            body = {"issues": [issue(key) for key in pages[n]], "isLast": not more, **more}
        else:
            n = starts.index(int(params["startAt"]))
            body = {"startAt": starts[n], "total": starts[-1] + len(pages[-1]),
                    "issues": [issue(key) for key in pages[n]]}
        return await answer(n, httpx.Response(200, json=body))

    return respx.get(CLOUD_SEARCH if deployment == "cloud" else DC_SEARCH).mock(side_effect=respond)


def others() -> set[asyncio.Task]:
    return asyncio.all_tasks() - {asyncio.current_task()}


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
@respx.mock
async def test_the_next_page_is_asked_for_while_the_page_before_is_read(deployment):
    asked = [asyncio.Event() for _ in range(3)]

    async def answer(page: int, response: httpx.Response) -> httpx.Response:
        asked[page].set()
        return response

    serve(deployment, [["SRV-1", "SRV-2"], ["SRV-3"], ["SRV-4"]], answer)
    async with aclosing(tracker(deployment).search(Search(projects=["SRV"]))) as searching:
        assert (await anext(searching)).ticket.key == "SRV-1"
        await asyncio.wait_for(asked[1].wait(), 1)  # while SRV-1 is held, and SRV-2 not yet asked for
        assert not asked[2].is_set()  # one page ahead, no more
        assert [found.ticket.key async for found in searching] == ["SRV-2", "SRV-3", "SRV-4"]


def held(started: asyncio.Event, cancelled: asyncio.Event) -> Answer:
    """Page 2 never answered: its call is started, then waits until cancelled."""
    async def answer(page: int, response: httpx.Response) -> httpx.Response:
        if page == 1:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise
        return response

    return answer


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
@respx.mock
async def test_a_search_left_after_its_first_page_cancels_the_call_ahead(deployment):
    started, cancelled = asyncio.Event(), asyncio.Event()
    serve(deployment, [["SRV-1", "SRV-2"], ["SRV-3"]], held(started, cancelled))
    searching = tracker(deployment).search(Search(projects=["SRV"]))
    assert (await anext(searching)).ticket.key == "SRV-1"
    await asyncio.wait_for(started.wait(), 1)
    await searching.aclose()
    assert cancelled.is_set() and not others()  # ended, and waited for


@respx.mock
async def test_a_search_cancelled_while_waiting_for_a_page_leaves_nothing_running():
    started, cancelled = asyncio.Event(), asyncio.Event()
    serve("cloud", [["SRV-1", "SRV-2"], ["SRV-3"]], held(started, cancelled))
    sweep = asyncio.create_task(every(tracker(), projects=["SRV"]))
    await asyncio.wait_for(started.wait(), 1)
    sweep.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sweep
    assert cancelled.is_set() and not others()


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
@respx.mock
async def test_a_page_ahead_that_failed_fails_the_search_only_when_reached(deployment):
    async def answer(page: int, response: httpx.Response) -> httpx.Response:
        if page == 1:
            return httpx.Response(400, json={"errorMessages": ["page 2 refused"], "errors": {}})
        return response

    serve(deployment, [["SRV-1", "SRV-2"], ["SRV-3"]], answer)
    async with aclosing(tracker(deployment).search(Search(projects=["SRV"]))) as searching:
        assert (await anext(searching)).ticket.key == "SRV-1"
        await asyncio.wait(others(), timeout=1)  # the call for page 2 has failed by now
        assert (await anext(searching)).ticket.key == "SRV-2"
        with pytest.raises(TrackerRejected, match="400 page 2 refused"):
            await anext(searching)


# -- history ---------------------------------------------------------------------------------
@respx.mock
async def test_cloud_history_pages_through_the_changelog():
    route = respx.get(f"{BASE}/rest/api/3/issue/SRV-1/changelog")
    route.side_effect = [
        httpx.Response(200, json={"startAt": 0, "maxResults": 2, "total": 3, "isLast": False, "values": [
            change(1, "2026-11-10T10:00:00.000+0100", "Realizace", "Nový"),
            edit(2, "2026-11-11T10:00:00.000+0100")]}),
        httpx.Response(200, json={"startAt": 2, "maxResults": 2, "total": 3, "isLast": True, "values": [
            change(3, "2026-11-12T10:00:00.000+0100", "Ke schválení", "Realizace")]}),
    ]
    history = await tracker().history("SRV-1")
    assert [(c.id, c.to_status) for c in history] == [("1", "Realizace"), ("3", "Ke schválení")]
    assert [call.request.url.params["startAt"] for call in route.calls] == ["0", "2"]


@respx.mock
async def test_data_center_history_is_read_with_the_issue():
    route = respx.get(f"{BASE}/rest/api/2/issue/TGS-8").respond(json={"key": "TGS-8", "changelog": {
        "startAt": 0, "maxResults": 2, "total": 2, "histories": [
            change(11, "2026-11-10T10:00:00.000+0000", "Realizace", "Nový", {"name": "jnovakova"}),
            change(12, "2026-11-12T10:00:00.000+0000", "Ke schválení", "Realizace")]}})
    history = await tracker("datacenter").history("TGS-8")
    assert route.calls[0].request.url.params["expand"] == "changelog"
    assert [c.id for c in history] == ["11", "12"]
    assert history[0].actor == Actor("jnovakova", None, Role.UNKNOWN)


@respx.mock
async def test_a_changes_id_is_the_one_its_webhook_carried(jira_sample):
    delivery = jira_sample("customer_forbidden_transition.json")
    event = parse_delivery(delivery)
    entry = change(int(delivery["changelog"]["id"]), "2026-11-20T16:02:41.508+0100",
                   event.to_status, event.from_status, delivery["user"])
    respx.get(f"{BASE}/rest/api/3/issue/SRV-412/changelog").respond(
        json={"startAt": 0, "maxResults": 100, "total": 1, "isLast": True, "values": [entry]})
    (seen,) = await tracker().history("SRV-412")
    assert seen.id == str(delivery["changelog"]["id"]) and seen.actor == event.actor


# -- a ticket by key, and no tracker ---------------------------------------------------------
@respx.mock
async def test_a_ticket_is_read_by_key_with_its_transitions():
    route = respx.get(f"{BASE}/rest/api/3/issue/SRV-7").respond(json={
        "key": "SRV-7", "fields": {"status": {"name": "Ke schválení"}, "customfield_10050": "PBI-1"},
        "transitions": [{"id": "51", "name": "Schválit", "to": {"name": "Schváleno"}}]})
    ticket = await tracker().ticket("SRV-7", ["customfield_10050"])
    assert route.calls[0].request.url.params["fields"] == "status,issuetype,project,customfield_10050"
    assert ticket.status == "Ke schválení" and ticket.fields["customfield_10050"] == "PBI-1"
    assert [(t.id, t.to_status) for t in ticket.transitions] == [("51", "Schváleno")]


async def test_without_a_tracker_a_search_finds_nothing_and_reads_fail():
    offline = OfflineTracker("jira", parse_body)
    assert await every(offline, statuses=["Ke schválení"], with_history=True) == []
    with pytest.raises(TrackerUnavailable, match="no tracker configured"):
        await offline.history("SRV-1")
    with pytest.raises(TrackerUnavailable, match="no tracker configured"):
        await offline.ticket("SRV-1")


# -- through the stand-in --------------------------------------------------------------------
def through(standin: JiraStandin) -> JiraTracker:
    transport = httpx.ASGITransport(app=create_app(standin))
    client = RestClient("https://jira.test", transport=transport, user="bridge", token="t")
    return JiraTracker(client, deployment=standin.deployment, retry=FAST)


def waiting_since(entered: datetime, sent_back: bool = False) -> list[dict]:
    """A ticket's way to approval; `sent_back`: approval was refused once and asked again."""
    way = [("Nový", "Realizace", entered - timedelta(days=3), AGENT)]
    if sent_back:
        way += [("Realizace", "Ke schválení", entered - timedelta(days=2), AGENT),
                ("Ke schválení", "Realizace", entered - timedelta(days=1), CUSTOMER)]
    way.append(("Realizace", "Ke schválení", entered, AGENT))
    return [{"from": frm, "to": to, "at": at.isoformat(), "by": by} for frm, to, at, by in way]


def seeded(deployment: str = "cloud", count: int = 250) -> tuple[JiraStandin, dict[str, datetime]]:
    standin = JiraStandin(deployment=deployment)
    entered = {}
    for n in range(1, count + 1):
        entered[f"SRV-{n}"] = datetime(2026, 11, 2, 8, 0, tzinfo=UTC) + timedelta(minutes=13 * n)
        standin.add_issue({"key": f"SRV-{n}", "status": "Ke schválení",
                           "history": waiting_since(entered[f"SRV-{n}"], sent_back=n % 3 == 0)})
    for n in range(1, 31):  # not waiting for approval: never found
        standin.add_issue({"key": f"SRV-{500 + n}", "status": "Realizace"})
    return standin, entered


@pytest.mark.parametrize("deployment", ["cloud", "datacenter"])
async def test_a_sweep_over_250_tickets_takes_one_call_a_page(deployment):
    standin, entered = seeded(deployment)
    found = await every(through(standin), statuses=["Ke schválení"], projects=["SRV"], with_history=True)

    assert sorted(f.ticket.key for f in found) == sorted(entered)  # each once
    for one in found:
        kept = standin.issue_state(standin.issues[one.ticket.key])["history"]
        assert [(c.id, c.from_status, c.to_status) for c in one.history] == [
            (h["id"], h["from"], h["to"]) for h in kept]
        assert one.history[-1].at == entered[one.ticket.key]  # the last entry: the timer's start
    assert [f.updated for f in found] == sorted(f.updated for f in found)
    assert len(standin.calls) == 3  # 100 + 100 + 50 tickets
    assert {call["path"] for call in standin.calls} == {
        "/rest/api/3/search/jql" if deployment == "cloud" else "/rest/api/2/search"}


async def test_a_history_longer_than_the_search_shows_is_read_for_that_ticket_alone():
    standin, _ = seeded(count=120)
    long = waiting_since(datetime(2026, 10, 1, tzinfo=UTC))
    for day in range(2, 24):  # sent back and forth 44 more times
        long += [{"from": "Ke schválení", "to": "Realizace", "at": f"2026-10-{day:02d}T09:00:00Z"},
                 {"from": "Realizace", "to": "Ke schválení", "at": f"2026-10-{day:02d}T10:00:00Z"}]
    standin.add_issue({"key": "SRV-900", "status": "Ke schválení", "history": long})

    found = await every(through(standin), statuses=["Ke schválení"], with_history=True)
    (whole,) = [f.history for f in found if f.ticket.key == "SRV-900"]
    assert len(whole) == 46 and whole[0].to_status == "Realizace"
    assert sorted(call["path"] for call in standin.calls) == [  # two pages, its changelog once
        "/rest/api/3/issue/SRV-900/changelog", "/rest/api/3/search/jql", "/rest/api/3/search/jql"]


async def test_a_change_read_in_a_sweep_has_the_id_its_webhook_carried():
    standin, _ = seeded(count=3)
    transport = httpx.ASGITransport(app=create_app(standin))
    async with httpx.AsyncClient(transport=transport, base_url="https://jira.test") as site:
        delivery = (await site.post("/_standin/issues/SRV-2/transition",
                                    json={"to": "Schváleno", "user": CUSTOMER})).json()
    history = await through(standin).history("SRV-2")
    assert history[-1].id == delivery["changelog"]["id"]
    assert history[-1].actor == parse_delivery(delivery).actor


@pytest.mark.parametrize("zone", ["Etc/GMT+12", "America/Los_Angeles", "Europe/Prague", "Pacific/Kiritimati"])
async def test_a_search_by_time_finds_what_changed_since_in_any_time_zone_of_the_account(zone):
    standin = JiraStandin()
    standin.reset(account={"timeZone": zone})  # Jira reads the JQL date in this zone
    since = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    for key, hours in (("SRV-1", -1), ("SRV-2", 1), ("SRV-3", 11), ("SRV-4", -13)):
        updated = since + timedelta(hours=hours)
        standin.add_issue({"key": key, "status": "Realizace", "updated": updated.isoformat()})
    found = await every(through(standin), statuses=["Realizace"], updated_since=since)
    assert [f.ticket.key for f in found] == ["SRV-2", "SRV-3"]

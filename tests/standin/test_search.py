"""The stand-in's searches and changelogs answer like Jira's, refusals included, and every
status change it makes is in the history with the id its webhook carried."""

from __future__ import annotations

import json

import httpx
import pytest

from . import search
from .app import create_app
from .state import JiraStandin

AGENT = {"accountId": "5b10-agent", "accountType": "atlassian", "displayName": "Petr Dvořák"}
CUSTOMER = {"accountId": "qm:1f0c", "accountType": "customer", "displayName": "Jana Nováková"}
SERVIS = {"Ke schválení": [{"id": "51", "name": "Schválit", "to": "Schváleno"}]}
JQL_ERROR = "Error in the JQL Query:"


def hours_of(hour: int, day: int = 13) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:00:00+01:00"


def moves(count: int, day: int = 1) -> list[dict]:
    """`count` changes back and forth, one an hour from the given day, ending in Ke schválení."""
    statuses = ["Realizace", "Ke schválení"] * count
    steps = statuses[-count - 1:]
    return [{"from": steps[n], "to": steps[n + 1], "by": AGENT,
             "at": f"2026-10-{day + n // 24:02d}T{n % 24:02d}:00:00+01:00"} for n in range(count)]


@pytest.fixture
def standin() -> JiraStandin:
    standin = JiraStandin()
    standin.set_workflow(SERVIS)
    for n, (status, kind, updated) in enumerate([
        ("Ke schválení", "Servis", hours_of(12)), ("Realizace", "Servis", hours_of(9)),
        ("Ke schválení", "[System] Service request", hours_of(8)),
        ("Ke schválení", "Servis", hours_of(10)),
    ], start=9):
        standin.add_issue({"key": f"SRV-{n}", "status": status, "issuetype": kind,
                           "updated": updated})
    standin.add_issue({"key": "TGS-1", "status": "Ke schválení", "updated": hours_of(11)})
    return standin


@pytest.fixture
async def jira(standin: JiraStandin):
    transport = httpx.ASGITransport(app=create_app(standin))
    async with httpx.AsyncClient(transport=transport, base_url="https://jira.test",
                                 auth=("bridge", "token")) as client:
        yield client


async def keys(jira: httpx.AsyncClient, jql: str, **params: str) -> list[str]:
    params = {"jql": jql, "fields": "status", **params}
    response = await jira.get("/rest/api/3/search/jql", params=params)
    assert response.status_code == 200, response.json()
    return [issue["key"] for issue in response.json()["issues"]]


async def refusal(jira: httpx.AsyncClient, jql: str) -> str:
    response = await jira.get("/rest/api/3/search/jql", params={"jql": jql})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == {} and len(body["errorMessages"]) == 1
    return body["errorMessages"][0]


# -- JQL -------------------------------------------------------------------------------------
async def test_the_conditions_narrow_and_the_order_sorts(jira: httpx.AsyncClient) -> None:
    waiting = 'status in ("Ke schválení") AND issuetype in ("Servis") AND project in ("SRV")'
    assert await keys(jira, waiting + " ORDER BY updated ASC, key ASC") == ["SRV-12", "SRV-9"]
    assert await keys(jira, 'status = "ke SCHVÁLENÍ" ORDER BY key') == ["SRV-9", "SRV-11", "SRV-12",
                                                                       "TGS-1"]
    assert await keys(jira, "project not in (TGS) ORDER BY key DESC") == ["SRV-12", "SRV-11",
                                                                          "SRV-10", "SRV-9"]


async def test_a_date_is_read_in_the_searching_accounts_time_zone(jira: httpx.AsyncClient) -> None:
    # 10:00 in Prague is 09:00 UTC: SRV-12 was updated at 10:00 Prague time, SRV-11 at 08:00
    assert await keys(jira, 'updated >= "2026/11/13 10:00" ORDER BY updated') == [
        "SRV-12", "TGS-1", "SRV-9"]
    assert await keys(jira, 'updated < "2026-11-13 09:00" ORDER BY updated') == ["SRV-11"]


@pytest.mark.parametrize("jql,says", [
    ('status in ("Ke schválení"', f"{JQL_ERROR} Expecting either ',' or ')' but reached"),
    ('status in ("Ke schválení) ORDER BY key', f"{JQL_ERROR} The quoted string"),
    ('status = "Hotovo" OR project = SRV', f"{JQL_ERROR} the Jira stand-in does not support 'OR'"),
    ("status in (Hotovo) ORDER BY summary", f"{JQL_ERROR} the Jira stand-in does not order by"),
    ("status = AND", f"{JQL_ERROR} Expecting either a value, list or function but got 'AND'"),
    ("assignee = currentUser()", "Field 'assignee' does not exist"),
    ("status = currentStatus()", f"{JQL_ERROR} the Jira stand-in does not support functions"),
    ("updated >= -5d", f"{JQL_ERROR} the Jira stand-in does not support the period '-5d'"),
    ('status in ("Nikde")', "The value 'Nikde' does not exist for the field 'status'."),
    ('project = "NOPE"', "The value 'NOPE' does not exist for the field 'project'."),
    ('updated >= "20.11.2026"', "Date value '20.11.2026' for field 'updated' is invalid."),
    ("ORDER BY key DESC", "Unbounded JQL queries are not allowed here."),
    ("", "Unbounded JQL queries are not allowed here."),
])
async def test_jql_jira_refuses_answers_400_with_its_message(jira, jql, says) -> None:
    assert (await refusal(jira, jql)).startswith(says)


async def test_a_quote_escaped_in_a_name_stays_in_the_name(jira, standin) -> None:
    standin.add_issue({"key": "SRV-20", "status": 'Čeká na "dodavatele" \\ sklad'})
    assert await keys(jira, r'status in ("Čeká na \"dodavatele\" \\ sklad")') == ["SRV-20"]


# -- pages -----------------------------------------------------------------------------------
async def test_pages_follow_their_tokens_to_the_last(jira, standin) -> None:
    for n in range(100, 220):
        standin.add_issue({"key": f"SRV-{n}", "status": "Realizace"})
    jql, seen, pages, token = "status = Realizace ORDER BY key", [], [], None
    while True:
        params = {"jql": jql, "fields": "status", "maxResults": "500"}  # more than Jira gives
        page = (await jira.get("/rest/api/3/search/jql",
                               params=params | ({"nextPageToken": token} if token else {}))).json()
        pages.append(len(page["issues"]))
        seen += [issue["key"] for issue in page["issues"]]
        if page["isLast"]:
            assert "nextPageToken" not in page
            break
        token = page["nextPageToken"]
    assert pages == [100, 21] and seen == ["SRV-10"] + [f"SRV-{n}" for n in range(100, 220)]
    other = await jira.get("/rest/api/3/search/jql",
                           params={"jql": "status = Hotovo", "nextPageToken": token})
    assert other.status_code == 400  # a token belongs to its query


async def test_fifty_by_default_and_the_same_answer_by_post(jira, standin) -> None:
    for n in range(100, 160):
        standin.add_issue({"key": f"SRV-{n}", "status": "Realizace"})
    jql = "status = Realizace"
    got = await jira.get("/rest/api/3/search/jql", params={"jql": jql, "fields": "status"})
    posted = await jira.post("/rest/api/3/search/jql", json={"jql": jql, "fields": ["status"]})
    assert len(got.json()["issues"]) == 50 and posted.json() == got.json()


async def test_data_center_searches_by_offset_and_cloud_no_longer_does(jira, standin) -> None:
    removed = await jira.get("/rest/api/2/search", params={"jql": "project = SRV"})
    assert removed.status_code == 410
    assert "/rest/api/3/search/jql" in removed.json()["errorMessages"][0]
    standin.deployment = "datacenter"
    page = (await jira.get("/rest/api/2/search", params={
        "jql": "project = SRV ORDER BY key", "startAt": "1", "maxResults": "2"})).json()
    assert (page["startAt"], page["total"]) == (1, 4)
    assert [issue["key"] for issue in page["issues"]] == ["SRV-10", "SRV-11"]
    enhanced = await jira.get("/rest/api/2/search/jql", params={"jql": "project = SRV"})
    assert enhanced.status_code == 404


async def pages_of(jira: httpx.AsyncClient, jql: str, between=None) -> list[list[str]]:
    """The keys of each page of the enhanced search; `between()` runs after the first page."""
    pages, token = [], None
    while True:
        params = {"jql": jql, "fields": "status", "maxResults": "100"}
        page = (await jira.get("/rest/api/3/search/jql",
                               params=params | ({"nextPageToken": token} if token else {}))).json()
        pages.append([issue["key"] for issue in page["issues"]])
        if page["isLast"]:
            return pages
        token = page["nextPageToken"]
        if between and len(pages) == 1:
            await between()


@pytest.mark.parametrize("change,second", [
    ("moved", [f"SRV-{n}" for n in range(201, 250)] + ["SRV-100"]),  # SRV-200 slipped by
    ("added", [f"SRV-{n}" for n in range(200, 250)] + ["SRV-300"]),
])
async def test_a_change_between_pages_shows_on_the_next_page(jira, standin, change, second) -> None:
    for n in range(100, 250):
        standin.add_issue({"key": f"SRV-{n}", "status": "Na klientovi",
                           "updated": f"2026-11-01T{n // 60:02d}:{n % 60:02d}:00+01:00"})

    async def between() -> None:
        if change == "moved":  # its update puts it last
            await jira.post("/_standin/issues/SRV-100/transition", json={
                "to": "Na klientovi", "webhook": False, "at": "2026-12-01T10:00:00+01:00"})
        else:
            await jira.post("/_standin/issues", json={
                "key": "SRV-300", "status": "Na klientovi", "updated": "2026-12-01T10:00:00+01:00"})

    jql = "status = \"Na klientovi\" ORDER BY updated, key"
    first, following = await pages_of(jira, jql, between)
    assert first == [f"SRV-{n}" for n in range(100, 200)] and following == second


async def test_a_name_refused_is_known_once_the_site_has_it(jira, standin) -> None:
    for jql in ("project = NEW", "key = NEW-1", 'status = "Odloženo"', 'issuetype = "Úkol"'):
        assert "does not exist" in await refusal(jira, jql)
    standin.add_issue({"key": "NEW-1", "status": "Odloženo", "issuetype": "Úkol"})
    assert await keys(jira, 'project = NEW AND key = NEW-1 AND status = "Odloženo" '
                            'AND issuetype = "Úkol"') == ["NEW-1"]

def test_a_querys_hits_are_worked_out_once_until_the_site_changes(standin) -> None:
    query = search.parse("project = SRV ORDER BY key", standin.zone)
    hits = search.found(standin, query)
    assert search.found(standin, query) is hits  # every page reads the same list
    standin.add_issue({"key": "SRV-99", "status": "Realizace"})
    assert search.found(standin, query) is not hits
    assert [issue.key for issue in search.found(standin, query)][-2:] == ["SRV-12", "SRV-99"]

# -- changelogs ------------------------------------------------------------------------------
async def test_the_changelog_is_paged_oldest_first(jira, standin) -> None:
    standin.add_issue({"key": "SRV-30", "status": "Ke schválení", "history": moves(130)})
    first = (await jira.get("/rest/api/3/issue/SRV-30/changelog")).json()
    assert (first["startAt"], first["maxResults"], first["total"]) == (0, 100, 130)
    assert first["isLast"] is False
    assert first["nextPage"].endswith("/issue/SRV-30/changelog?startAt=100&maxResults=100")
    rest = (await jira.get("/rest/api/3/issue/SRV-30/changelog", params={"startAt": "100"})).json()
    assert rest["isLast"] is True and "nextPage" not in rest
    entries = first["values"] + rest["values"]
    assert [e["created"] for e in entries] == sorted(e["created"] for e in entries)
    assert entries[-1]["items"][0]["toString"] == "Ke schválení"
    assert entries[0]["author"]["accountId"] == AGENT["accountId"]
    standin.deployment = "datacenter"  # Data Center has no such resource
    gone = await jira.get("/rest/api/2/issue/SRV-30/changelog")
    assert gone.status_code == 404 and gone.json()["message"].startswith("null for uri")


async def test_a_search_shows_only_the_newest_changes_and_says_how_many(jira, standin) -> None:
    standin.add_issue({"key": "SRV-30", "status": "Ke schválení", "history": moves(45)})
    params = {"jql": "key = SRV-30", "fields": "status", "expand": "changelog"}
    (issue,) = (await jira.get("/rest/api/3/search/jql", params=params)).json()["issues"]
    changelog = issue["changelog"]
    assert (changelog["total"], len(changelog["histories"])) == (45, 40)
    whole = [e["id"] for e in await changelog_of(jira, "SRV-30")]
    assert [e["id"] for e in changelog["histories"]] == whole[::-1][:40]  # the newest, newest first
    standin.deployment = "datacenter"
    (issue,) = (await jira.get("/rest/api/2/search", params=params)).json()["issues"]
    assert [e["id"] for e in issue["changelog"]["histories"]] == whole  # whole, oldest first


# -- changes and seeds -----------------------------------------------------------------------
class Bridge:
    def __init__(self) -> None:
        self.received: list[dict] = []
        self.transport = httpx.MockTransport(self.receive)

    def receive(self, request: httpx.Request) -> httpx.Response:
        self.received.append(json.loads(request.content))
        return httpx.Response(200)


@pytest.fixture
async def watched(standin: JiraStandin):
    """The stand-in with its webhook going to a bridge that keeps what it receives."""
    bridge = Bridge()
    standin._transport = bridge.transport
    standin.set_webhook("http://bridge.test/webhooks/jira")
    return bridge


async def changelog_of(jira: httpx.AsyncClient, key: str) -> list[dict]:
    return (await jira.get(f"/rest/api/3/issue/{key}/changelog")).json()["values"]


async def test_every_change_carries_the_id_its_webhook_carried(jira, standin, watched) -> None:
    await jira.post("/_standin/issues/SRV-9/transition", json={"to": "Realizace", "user": CUSTOMER})
    refused = await jira.post("/rest/api/3/issue/SRV-10/transitions",
                              json={"transition": {"id": "51"}})
    assert refused.status_code == 400  # there is no way to Schváleno from Realizace
    await jira.post("/_standin/issues/SRV-12/transition", json={"to": "Ke schválení"})
    assert (await jira.post("/rest/api/3/issue/SRV-12/transitions",
                            json={"transition": {"id": "51"}})).status_code == 204
    await standin.drain()
    sent = [(d["issue"]["key"], d["changelog"]["id"]) for d in watched.received]
    kept = [(key, e["id"]) for key in ("SRV-9", "SRV-12") for e in await changelog_of(jira, key)]
    assert sorted(sent) == sorted(kept) and len(sent) == 3
    (mine,) = await changelog_of(jira, "SRV-9")
    assert mine["author"]["accountType"] == "customer"
    assert mine["items"][0]["fromString"] == "Ke schválení"


async def test_a_move_jira_never_delivered_is_still_in_the_history(jira, standin, watched) -> None:
    before = standin.issues["SRV-9"].fields["updated"]
    moved = await jira.post("/_standin/issues/SRV-9/transition", json={
        "to": "Schváleno", "user": AGENT, "webhook": False, "at": "2026-11-20T16:02:41.508+01:00"})
    await standin.drain()
    assert watched.received == []
    (entry,) = await changelog_of(jira, "SRV-9")
    assert entry["id"] == moved.json()["changelog"]["id"] and entry["id"].isdigit()
    assert entry["created"] == "2026-11-20T16:02:41.508+0100"
    issue = (await jira.get("/rest/api/3/issue/SRV-9", params={"fields": "status,updated"})).json()
    assert issue["fields"]["updated"] == entry["created"] != before
    assert issue["fields"]["status"]["name"] == "Schváleno"


async def test_a_seeded_history_is_kept_and_dates_the_ticket(jira) -> None:
    history = [{"from": "Nový", "to": "Realizace", "at": "2026-11-12T09:00:00+01:00", "by": AGENT},
               {"from": "Realizace", "to": "Ke schválení", "at": "2026-11-13T10:00:00+01:00",
                "by": CUSTOMER}]
    made = await jira.post("/_standin/issues", json={"key": "SRV-40", "status": "Ke schválení",
                                                     "history": history})
    assert made.status_code == 201
    state = (await jira.get("/_standin/issues/SRV-40")).json()
    assert [(h["to"], h["by"]) for h in state["history"]] == [
        ("Realizace", AGENT["accountId"]), ("Ke schválení", CUSTOMER["accountId"])]
    assert state["fields"]["updated"] == "2026-11-13T10:00:00.000+0100"
    entries = await changelog_of(jira, "SRV-40")
    assert [e["id"] for e in entries] == [h["id"] for h in state["history"]]
    dated = await jira.post("/_standin/issues", json={"key": "SRV-41", "status": "Ke schválení",
                                                      "history": history,
                                                      "updated": "2026-11-14T08:00:00Z"})
    assert dated.json()[0]["fields"]["updated"] == "2026-11-14T09:00:00.000+0100"


@pytest.mark.parametrize("seed,says", [
    ({"status": "Hotovo"}, "history ends in 'Ke schválení', the status is 'Hotovo'"),
    ({"status": "Ke schválení", "history": [{"to": "Ke schválení"}]}, "KeyError: 'at'"),
    ({"status": "Ke schválení", "history": [{"to": "Ke schválení", "at": "2026-11-13 10:00"}]},
     "has no offset"),
])
async def test_a_history_that_cannot_be_is_refused(jira, seed, says) -> None:
    seed = {"key": "SRV-50", "history": moves(2), **seed}
    response = await jira.post("/_standin/issues", json=seed)
    assert response.status_code == 400 and says in response.json()["error"]

"""The stand-in's worklogs, fields and customers answer like Jira's: cut to 20 in an issue's
fields, paged on their own, and every change of logged time updates the ticket."""

from __future__ import annotations

import httpx
import pytest

from .app import create_app
from .state import JiraStandin

AGENT = {"accountId": "5b10-agent", "accountType": "atlassian", "displayName": "Petr Dvořák"}
JANA = {"accountId": "qm:1f0c", "accountType": "customer", "displayName": "Jana Nováková",
        "emailAddress": "jana@pekarna-novak.cz"}
ORGANIZATIONS = "com.atlassian.servicedesk:sd-customer-organizations"


def worklogs(count: int, day: int = 2) -> list[dict]:
    """`count` worklogs on one day, half an hour apart, the odd ones with a comment."""
    return [{"started": f"2026-11-{day:02d}T{8 + n // 2:02d}:{30 * (n % 2):02d}:00+01:00",
             "seconds": 900 + 60 * n, "by": AGENT, "comment": f"Práce {n}" if n % 2 else ""}
            for n in range(count)]


@pytest.fixture
def standin() -> JiraStandin:
    standin = JiraStandin()
    standin.add_issue({"key": "SRV-1", "id": "20001", "status": "Hotovo", "updated": "2026-11-01T10:00:00+01:00",
                       "reporter": JANA, "organizations": ["Pekárna Novák", "Novák a syn"],
                       "worklogs": worklogs(25)})
    standin.add_issue({"key": "SRV-2", "status": "Hotovo", "updated": "2026-11-01T11:00:00+01:00",
                       "worklogs": worklogs(2)})
    return standin


@pytest.fixture
async def jira(standin: JiraStandin):
    transport = httpx.ASGITransport(app=create_app(standin))
    async with httpx.AsyncClient(transport=transport, base_url="https://jira.test",
                                 auth=("bridge", "token")) as client:
        yield client


async def get(jira: httpx.AsyncClient, path: str, **params: str) -> dict:
    response = await jira.get(path, params=params)
    assert response.status_code == 200, response.json()
    return response.json()


async def test_an_issues_worklog_field_holds_the_oldest_20_and_the_true_total(jira: httpx.AsyncClient) -> None:
    field = (await get(jira, "/rest/api/3/issue/SRV-1", fields="worklog"))["fields"]["worklog"]
    assert (field["startAt"], field["maxResults"], field["total"], len(field["worklogs"])) == (0, 20, 25, 20)
    first = field["worklogs"][0]
    assert (first["timeSpentSeconds"], first["timeSpent"], first["started"]) == (
        900, "15m", "2026-11-02T08:00:00.000+0100")
    assert first["author"]["accountId"] == AGENT["accountId"] and first["issueId"] == "20001"
    assert "comment" not in first  # v3: a worklog without a comment has none
    assert field["worklogs"][1]["comment"]["type"] == "doc"
    everything = (await get(jira, "/rest/api/2/issue/SRV-1"))["fields"]
    assert everything["worklog"]["total"] == 25 and everything["worklog"]["worklogs"][0]["comment"] == ""
    assert "worklog" not in (await get(jira, "/rest/api/3/issue/SRV-1", fields="status,summary"))["fields"]


@pytest.mark.parametrize("deployment, path", [("cloud", "/rest/api/3/search/jql"), ("datacenter", "/rest/api/2/search")])
async def test_a_search_asking_for_worklogs_gets_them_cut_as_jira_cuts_them(
    jira: httpx.AsyncClient, standin: JiraStandin, deployment: str, path: str
) -> None:
    standin.deployment = deployment
    found = await get(jira, path, jql="project = SRV ORDER BY key", fields="worklog,reporter")
    one, two = (issue["fields"] for issue in found["issues"])
    assert (one["worklog"]["total"], len(one["worklog"]["worklogs"])) == (25, 20)
    assert (two["worklog"]["total"], len(two["worklog"]["worklogs"])) == (2, 2)
    assert one["reporter"]["emailAddress"] == "jana@pekarna-novak.cz" and two["reporter"] is None


async def test_cloud_pages_an_issues_worklogs_oldest_first(jira: httpx.AsyncClient) -> None:
    first = await get(jira, "/rest/api/3/issue/SRV-1/worklog", startAt="0", maxResults="10")
    rest = await get(jira, "/rest/api/3/issue/SRV-1/worklog", startAt="10", maxResults="10000")
    assert (first["startAt"], first["maxResults"], first["total"], len(first["worklogs"])) == (0, 10, 25, 10)
    assert (rest["maxResults"], len(rest["worklogs"])) == (5000, 15)  # asked for more than Jira gives
    started = [w["started"] for w in first["worklogs"] + rest["worklogs"]]
    assert len(set(w["id"] for w in first["worklogs"] + rest["worklogs"])) == 25 and len(started) == 25
    refused = await jira.get("/rest/api/3/issue/SRV-1/worklog", params={"startAt": "first"})
    assert refused.status_code == 404
    assert (await jira.get("/rest/api/3/issue/SRV-404/worklog")).status_code == 404


async def test_data_center_lists_every_worklog_at_once(jira: httpx.AsyncClient, standin: JiraStandin) -> None:
    standin.deployment = "datacenter"
    page = await get(jira, "/rest/api/2/issue/SRV-1/worklog", startAt="0", maxResults="5")
    assert (page["total"], len(page["worklogs"])) == (25, 25)
    assert page["worklogs"][1]["comment"] == "Práce 1"


async def test_fields_list_the_organisations_field_by_its_service_management_type(
    jira: httpx.AsyncClient, standin: JiraStandin
) -> None:
    fields = await get(jira, "/rest/api/3/field")
    (organizations,) = [f for f in fields if f["schema"].get("custom") == ORGANIZATIONS]
    assert organizations["id"] == "customfield_10002" and organizations["schema"]["items"] == "sd-customerorganization"
    assert {"summary", "reporter", "worklog", "updated"} <= {f["id"] for f in fields}
    value = (await get(jira, "/rest/api/2/issue/SRV-1", fields="customfield_10002"))["fields"]["customfield_10002"]
    assert [(o["id"], o["name"]) for o in value] == [("1", "Pekárna Novák"), ("2", "Novák a syn")]
    assert value[0]["_links"]["self"] == "https://jira.test/rest/servicedeskapi/organization/1"

    standin.organizations_field = None  # a site without Service Management
    assert not [f for f in await get(jira, "/rest/api/3/field") if f["custom"]]
    assert "customfield_10002" not in (await get(jira, "/rest/api/3/issue/SRV-1"))["fields"]


async def test_logging_editing_and_deleting_time_update_the_ticket(jira: httpx.AsyncClient) -> None:
    async def updated() -> str:
        return (await get(jira, "/rest/api/3/issue/SRV-2", fields="updated"))["fields"]["updated"]

    made = await jira.post("/_standin/issues/SRV-2/worklogs", json=[
        {"started": "2026-11-20T09:00:00+01:00", "seconds": 5400, "created": "2026-11-20T17:00:00+01:00"},
        {"started": "2026-11-21T09:00:00+01:00", "seconds": 1800, "by": JANA, "created": "2026-11-21T10:00:00+01:00"}])
    assert made.status_code == 201 and [w["seconds"] for w in made.json()] == [5400, 1800]
    assert await updated() == "2026-11-21T10:00:00.000+0100"
    ident = made.json()[0]["id"]

    edited = await jira.put(f"/_standin/issues/SRV-2/worklogs/{ident}",
                            json={"seconds": 3600, "at": "2026-11-22T08:00:00+01:00"})
    assert edited.status_code == 204 and await updated() == "2026-11-22T08:00:00.000+0100"
    page = await get(jira, "/rest/api/2/issue/SRV-2/worklog")
    assert [(w["id"], w["timeSpentSeconds"]) for w in page["worklogs"] if w["id"] == ident] == [(ident, 3600)]
    assert page["worklogs"][-1]["author"]["accountId"] == JANA["accountId"]

    deleted = await jira.request("DELETE", f"/_standin/issues/SRV-2/worklogs/{ident}",
                                 json={"at": "2026-11-23T08:00:00+01:00"})
    assert deleted.status_code == 204 and await updated() == "2026-11-23T08:00:00.000+0100"
    assert (await get(jira, "/rest/api/2/issue/SRV-2/worklog"))["total"] == 3
    found = await get(jira, "/rest/api/3/search/jql", jql='updated >= "2026/11/23 00:00"', fields="key")
    assert [issue["key"] for issue in found["issues"]] == ["SRV-2"]


async def test_changes_to_worklogs_that_are_not_there_are_refused(jira: httpx.AsyncClient) -> None:
    assert (await jira.put("/_standin/issues/SRV-2/worklogs/1", json={"seconds": 60})).status_code == 404
    assert (await jira.delete("/_standin/issues/SRV-2/worklogs/1")).status_code == 404
    assert (await jira.post("/_standin/issues/SRV-9/worklogs", json=worklogs(1))).status_code == 404
    short = {"started": "2026-11-20T09:00:00+01:00", "seconds": 30}
    assert (await jira.post("/_standin/issues/SRV-2/worklogs", json=short)).status_code == 400
    naive = {"started": "2026-11-20T09:00:00", "seconds": 60}
    assert (await jira.post("/_standin/issues/SRV-2/worklogs", json=naive)).status_code == 400


async def test_tickets_are_seeded_with_their_worklogs_in_one_call(jira: httpx.AsyncClient, standin: JiraStandin) -> None:
    done = [{"from": "Realizace", "to": "Hotovo", "at": "2026-10-30T16:00:00+01:00"}]
    seed = [{"key": f"TGS-{n}", "status": "Hotovo", "history": done, "reporter": JANA,
             "worklogs": worklogs(10, day=1 + n % 28)} for n in range(1, 201)]
    assert (await jira.post("/_standin/issues", json=seed)).status_code == 201
    assert sum(len(issue.worklogs) for issue in standin.issues.values()) == 27 + 2000
    state = (await jira.get("/_standin/issues/TGS-7")).json()
    assert [w["seconds"] for w in state["worklogs"]] == [900 + 60 * n for n in range(10)]
    # last updated when its last worklog was logged (at the end of the work), after its history
    assert state["fields"]["updated"] == "2026-11-08T12:54:00.000+0100"
